import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";

/** What an online screen was doing: the three online columns of `screen_uptime_hourly`. */
export type UptimeState = "playing" | "displayOff" | "idle";

/** PLAYING, DISPLAY_OFF, or anything else a connected screen shows (standby, pairing, recovering). */
export function uptimeStateOf(state: PlaybackState | undefined): UptimeState {
  if (state === PlaybackState.PLAYING) return "playing";
  if (state === PlaybackState.DISPLAY_OFF) return "displayOff";
  return "idle";
}

/** Online milliseconds of one screen in one UTC hour, by state. */
export interface UptimeHour {
  screenId: string;
  /** Start of the UTC hour (epoch ms). */
  hour: number;
  playing: number;
  displayOff: number;
  idle: number;
}

const hourMs = 3_600_000;

/**
 * Turns the heartbeats of the streams this process holds into online time per screen and UTC
 * hour, in memory, for one upsert per flush (src/fleet/pg/uptime.ts): no row per heartbeat.
 *
 * A heartbeat at `t` credits the time since the screen's previous heartbeat (or since its stream
 * was welcomed) to the state it reports, split at hour boundaries, but never more than two
 * heartbeat intervals: a longer silence on an open stream was not online time. The time after a
 * screen's last heartbeat before its stream closed is not credited. Whatever is not credited is
 * offline in the reports (from the screen's creation on), so a screen reads as online only for
 * stretches its heartbeats vouch for.
 */
export class UptimeAccumulator {
  readonly #last = new Map<string, { at: number; capMs: number }>();
  #hours = new Map<string, UptimeHour>();

  /** The stream of `screenId` was welcomed at `at`; heartbeats every `intervalSeconds` follow. */
  opened(screenId: string, at: Date, intervalSeconds: number): void {
    this.#last.set(screenId, { at: at.getTime(), capMs: 2 * intervalSeconds * 1000 });
  }

  /** A heartbeat at `at` reporting `state`. */
  beat(screenId: string, at: Date, state: UptimeState): void {
    const t = at.getTime();
    const last = this.#last.get(screenId);
    if (!last) {
      // A stream this process did not see open (it was welcomed before a restart of this store): from now on.
      this.#last.set(screenId, { at: t, capMs: 2 * 15_000 });
      return;
    }
    let from = Math.max(last.at, t - last.capMs);
    last.at = Math.max(last.at, t);
    while (from < t) {
      const hour = Math.floor(from / hourMs) * hourMs;
      const until = Math.min(t, hour + hourMs);
      this.#add({ screenId, hour, playing: 0, displayOff: 0, idle: 0, [state]: until - from });
      from = until;
    }
  }

  /** The stream of `screenId` closed: nothing more is credited until it opens again. */
  closed(screenId: string): void {
    this.#last.delete(screenId);
  }

  /** Takes every credited hour (for writing); the accumulator starts empty. */
  take(): UptimeHour[] {
    const hours = [...this.#hours.values()];
    this.#hours = new Map();
    return hours;
  }

  /** Puts hours back whose write failed, so the next flush writes them. */
  restore(hours: readonly UptimeHour[]): void {
    for (const hour of hours) this.#add(hour);
  }

  #add(credit: UptimeHour): void {
    const key = `${credit.screenId}|${credit.hour}`;
    const hour = this.#hours.get(key);
    if (!hour) {
      this.#hours.set(key, { ...credit });
      return;
    }
    hour.playing += credit.playing;
    hour.displayOff += credit.displayOff;
    hour.idle += credit.idle;
  }
}
