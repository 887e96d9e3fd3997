import type { Clock } from "../../platform/clock.ts";
import type { FleetMetrics } from "./metrics.ts";
import { missedHeartbeatsForOffline } from "./view.ts";

interface Tracked {
  tenantId: string;
  lastSeenMs: number;
  intervalSeconds: number;
  online: boolean;
}

/**
 * Online/offline for the streams this process holds, kept in memory so judging 10,000 screens
 * costs no database reads. `sweep()` (every few seconds) finds screens silent for 3 heartbeat
 * intervals and reports each transition once, so the live view refreshes exactly those screens.
 */
export class Presence {
  readonly #clock: Clock;
  readonly #metrics: FleetMetrics | undefined;
  readonly #onChange: (tenantId: string, screenId: string) => void;
  readonly #tracked = new Map<string, Tracked>();

  constructor(clock: Clock, onChange: (tenantId: string, screenId: string) => void, metrics?: FleetMetrics) {
    this.#clock = clock;
    this.#onChange = onChange;
    this.#metrics = metrics;
  }

  /** A message arrived from the screen. */
  seen(screenId: string, tenantId: string, intervalSeconds: number): void {
    const tracked = this.#tracked.get(screenId);
    const now = this.#clock.now().getTime();
    if (tracked) {
      tracked.lastSeenMs = now;
      tracked.intervalSeconds = intervalSeconds;
      if (!tracked.online) this.#transition(screenId, tracked, true);
      return;
    }
    const fresh = { tenantId, lastSeenMs: now, intervalSeconds, online: false };
    this.#tracked.set(screenId, fresh);
    this.#transition(screenId, fresh, true);
  }

  /** The stream ended (and no newer stream replaced it). */
  gone(screenId: string): void {
    const tracked = this.#tracked.get(screenId);
    if (!tracked) return;
    this.#tracked.delete(screenId);
    if (tracked.online) this.#transition(screenId, tracked, false);
  }

  /** Marks silent screens offline; returns the ids that changed. */
  sweep(): string[] {
    const now = this.#clock.now().getTime();
    const changed: string[] = [];
    for (const [screenId, tracked] of this.#tracked) {
      const online = now - tracked.lastSeenMs <= missedHeartbeatsForOffline * tracked.intervalSeconds * 1000;
      if (online !== tracked.online) {
        this.#transition(screenId, tracked, online);
        changed.push(screenId);
      }
    }
    return changed;
  }

  /** Number of screens online on this process. */
  get onlineCount(): number {
    let count = 0;
    for (const tracked of this.#tracked.values()) if (tracked.online) count++;
    return count;
  }

  #transition(screenId: string, tracked: Tracked, online: boolean): void {
    tracked.online = online;
    this.#metrics?.screensOnline.inc(online ? 1 : -1);
    this.#onChange(tracked.tenantId, screenId);
  }
}
