import { evaluateSchedule, isValidTimeZone } from "@avtech/proto";
import { type DesiredState, Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import type { Logger } from "pino";
import type { Clock, TimerHandle } from "../lib/index.ts";
import type { DisplayPower } from "../playback/display-power.ts";
import type { OutputSettings, Playback, PlayItem, PlayPlan } from "../playback/types.ts";
import { evaluateDisplayHours } from "./display-hours.ts";

/** Where verified media lives (the asset cache). */
export interface MediaIndex {
  has(sha256: string): boolean;
  pathOf(sha256: string): string;
}

/** Dependencies of the {@link ScheduleTimer}. */
export interface ScheduleTimerDeps {
  playback: Playback;
  media: MediaIndex;
  clock: Clock;
  logger: Logger;
  /**
   * Powers the display off outside the desired state's display hours and on again inside
   * them; default none (the display-off slate alone blanks the screen).
   */
  displayPower?: DisplayPower;
  /** The config's `timezone`; overrides the desired state's. */
  timezoneOverride?: string | undefined;
  /**
   * Longest sleep between evaluations; default 60 000 ms. The timer aims at the next change,
   * but never sleeps longer than this, so a wall-clock step (NTP sync after boot on a Pi
   * without RTC) is noticed within this delay.
   */
  maxSleepMs?: number;
}

/** What the timer decided last. */
export interface ScheduleSnapshot {
  version: string;
  playlistId: string | undefined;
  ruleId: string | undefined;
  nextChangeAt: string;
  timezone: string;
  /** False outside the screen's display hours. */
  displayOn: boolean;
}

const rotations: Readonly<Record<Orientation, OutputSettings["rotation"]>> = {
  // Unspecified keeps the configured rotation (`display_rotation`), so a screen an installer
  // mounted rotated stays right until the fleet manager sets an orientation.
  [Orientation.UNSPECIFIED]: undefined,
  [Orientation.LANDSCAPE]: 0,
  [Orientation.PORTRAIT]: 90,
  [Orientation.LANDSCAPE_FLIPPED]: 180,
  [Orientation.PORTRAIT_FLIPPED]: 270,
};

/**
 * The output settings a desired state asks for. The control plane always fills volume_percent
 * (100 for new screens), so it is applied as given; a state without settings keeps the configured
 * defaults.
 */
export function outputSettingsOf(state: DesiredState): OutputSettings {
  const settings = state.settings;
  if (!settings) return {};
  return {
    volumePercent: Math.min(100, settings.volumePercent),
    rotation: rotations[settings.orientation],
  };
}

/**
 * The IANA zone a state's schedule is read in: the config's override, else the state's own zone,
 * else the system's.
 */
export function screenTimeZone(state: DesiredState, override: string | undefined): string {
  for (const zone of [override, state.settings?.timezone]) if (zone && isValidTimeZone(zone)) return zone;
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Plays the desired state's schedule offline: evaluates its rules in the screen's time zone,
 * tells Playback what to play (or shows the standby slate), and arms a timer for the next
 * change. Calls Playback only when the decision changes. It also applies the state's screen
 * settings: volume and rotation on the running output, and display hours (outside them the
 * display is powered off where possible and the black display-off slate replaces content, so
 * no proof of play is recorded for a dark screen); display-hour boundaries are timer
 * boundaries like daypart changes.
 */
export class ScheduleTimer {
  readonly #deps: ScheduleTimerDeps;
  #state: DesiredState | undefined;
  #timer: TimerHandle | undefined;
  #lastKey: string | undefined;
  #lastOutput: string | undefined;
  #displayOn: boolean | undefined;
  #snapshot: ScheduleSnapshot | undefined;
  #stopped = false;
  #queue: Promise<void> = Promise.resolve();

  constructor(deps: ScheduleTimerDeps) {
    this.#deps = deps;
  }

  /** Switches to `state` and plays what it says now; resolves when Playback has been told. */
  playState(state: DesiredState): Promise<void> {
    this.#state = state;
    return this.evaluate();
  }

  /** The last decision, for the status file. */
  get snapshot(): ScheduleSnapshot | undefined {
    return this.#snapshot;
  }

  /** Re-evaluates now (also used on clock jumps); evaluations are serialised. */
  evaluate(): Promise<void> {
    this.#queue = this.#queue.then(
      () => this.#evaluate(),
      () => this.#evaluate(),
    );
    return this.#queue;
  }

  /** Shows the standby slate when there is no state at all (first boot before any content). */
  async showStandby(screenName: string): Promise<void> {
    this.#lastKey = "standby";
    await this.#deps.playback.showSlate({ kind: "standby", screenName });
  }

  /** Disarms the timer. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }

  async #evaluate(): Promise<void> {
    const { clock, playback, logger } = this.#deps;
    const state = this.#state;
    if (!state || this.#stopped) return;
    this.#timer?.cancel();
    const now = clock.now();
    const timezone = this.#timezone(state);
    const decision = evaluateSchedule(
      { rules: state.rules, defaultPlaylistId: state.defaultPlaylistId, timezone },
      now,
    );
    const display = evaluateDisplayHours(state.settings?.displayHours ?? [], timezone, now);
    this.#snapshot = {
      version: state.version.toString(),
      playlistId: decision.playlistId,
      ruleId: decision.ruleId,
      nextChangeAt: decision.nextChangeAt.toISOString(),
      timezone,
      displayOn: display.on,
    };
    await this.#applyOutput(state);
    if (display.on) await this.#setDisplayPower(true);
    const plan = decision.playlistId ? this.#plan(state, decision.playlistId, decision.ruleId ?? "") : undefined;
    const key = !display.on
      ? "display-off"
      : plan
        ? JSON.stringify([state.version.toString(), state.contentHash, plan.playlistId, plan.ruleId, plan.items.length])
        : "standby";
    if (key !== this.#lastKey) {
      this.#lastKey = key;
      if (!display.on) {
        logger.info({ until: display.nextChangeAt?.toISOString() }, "schedule: outside display hours, display off");
        await playback.showSlate({ kind: "display-off" });
      } else if (plan) {
        logger.info({ playlistId: plan.playlistId, ruleId: plan.ruleId, items: plan.items.length }, "schedule: play");
        await playback.play(plan);
      } else {
        logger.info({ playlistId: decision.playlistId }, "schedule: standby");
        await playback.showSlate({ kind: "standby", screenName: state.settings?.screenName ?? "" });
      }
    }
    // Off only once the slate is up: the last frame of content never lingers on a display
    // that cannot be powered off.
    if (!display.on) await this.#setDisplayPower(false);
    const nextChange = Math.min(decision.nextChangeAt.getTime(), display.nextChangeAt?.getTime() ?? Infinity);
    const delay = Math.min(Math.max(0, nextChange - now.getTime()), this.#deps.maxSleepMs ?? 60_000);
    if (!this.#stopped) this.#timer = clock.setTimeout(() => void this.evaluate(), delay);
  }

  /** Volume and rotation, sent only when they change (the engine keeps them across restarts). */
  async #applyOutput(state: DesiredState): Promise<void> {
    const output = outputSettingsOf(state);
    const key = JSON.stringify(output);
    if (key === this.#lastOutput) return;
    try {
      await this.#deps.playback.setOutput(output);
      this.#lastOutput = key;
    } catch (error) {
      // Content matters more than volume: play on, and try again at the next evaluation.
      this.#deps.logger.warn({ err: error, ...output }, "could not apply the output settings; will retry");
    }
  }

  /** Switches display power when it changes; the first evaluation always sets it (a restart may follow an off period). */
  async #setDisplayPower(on: boolean): Promise<void> {
    if (this.#displayOn === on) return;
    this.#displayOn = on;
    await this.#deps.displayPower?.set(on);
  }

  #plan(state: DesiredState, playlistId: string, ruleId: string): PlayPlan | undefined {
    const playlist = state.playlists.find((p) => p.id === playlistId);
    const items: PlayItem[] = [];
    for (const item of playlist?.items ?? []) {
      // A file deleted as corrupt after boot is skipped until the reconciler has fetched it again.
      if (!this.#deps.media.has(item.assetSha256)) continue;
      items.push({
        path: this.#deps.media.pathOf(item.assetSha256),
        assetSha256: item.assetSha256,
        videoId: item.videoId,
        durationMs: item.durationMs,
      });
    }
    return items.length > 0 ? { playlistId, ruleId, items } : undefined;
  }

  #timezone(state: DesiredState): string {
    return screenTimeZone(state, this.#deps.timezoneOverride);
  }
}
