import { readFile } from "node:fs/promises";
import type { Clock, TimerHandle } from "../lib/index.ts";
import { isENOENT, writeFileAtomic } from "../storage/index.ts";

/**
 * Last-played time per asset, for least-recently-played eviction. Kept in a small json file
 * written atomically; writes are coalesced (at most one per `flushDelayMs`) because a clip
 * boundary every few seconds would otherwise wear the SD card. Losing the last few seconds of
 * play times on a power cut only changes eviction order slightly.
 */
export class PlayTimes {
  readonly #path: string;
  readonly #clock: Clock;
  readonly #flushDelayMs: number;
  readonly #times = new Map<string, number>();
  #timer: TimerHandle | undefined;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;

  /** `flushDelayMs` defaults to 30 000. */
  constructor(path: string, clock: Clock, flushDelayMs = 30_000) {
    this.#path = path;
    this.#clock = clock;
    this.#flushDelayMs = flushDelayMs;
  }

  /** Loads the file; a missing or unreadable file starts empty (it only orders evictions). */
  async load(): Promise<void> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.#path, "utf8"));
      if (typeof parsed === "object" && parsed !== null) {
        for (const [sha, at] of Object.entries(parsed)) if (typeof at === "number") this.#times.set(sha, at);
      }
    } catch (error) {
      if (!isENOENT(error) && !(error instanceof SyntaxError)) throw error;
    }
  }

  /** Epoch ms of the last play of `sha256`, 0 when never played. */
  get(sha256: string): number {
    return this.#times.get(sha256) ?? 0;
  }

  /** Records a play and schedules a coalesced write. */
  touch(sha256: string, at: Date): void {
    this.#times.set(sha256, at.getTime());
    this.#dirty = true;
    this.#timer ??= this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#flushDelayMs);
  }

  /** Forgets an evicted asset. */
  forget(sha256: string): void {
    this.#dirty ||= this.#times.delete(sha256);
  }

  /** Writes now when something changed (also used at shutdown). Writes are serialised. */
  flush(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (!this.#dirty) return this.#writing;
    this.#dirty = false;
    const snapshot = `${JSON.stringify(Object.fromEntries(this.#times))}\n`;
    this.#writing = this.#writing.catch(() => undefined).then(() => writeFileAtomic(this.#path, snapshot));
    return this.#writing;
  }
}
