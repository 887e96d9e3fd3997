/** Options of {@link RestartPolicy}. */
export interface RestartPolicyOptions {
  /** First delay; default 100 ms. */
  initialMs?: number;
  /** Largest delay; default 10 s. */
  maxMs?: number;
  /** A run at least this long counts as stable and resets the delay; default 30 s. */
  stableMs?: number;
}

const hourMs = 3_600_000;

/**
 * When to restart mpv. Delays double from `initialMs` to `maxMs` and go back to `initialMs` after
 * a stable run. No jitter: this restarts one local process, there is no herd to spread. Pure
 * (times are passed in) so it is tested without timers.
 */
export class RestartPolicy {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #stableMs: number;
  #failures = 0;
  #restarts: number[] = [];

  constructor(options: RestartPolicyOptions = {}) {
    this.#initialMs = options.initialMs ?? 100;
    this.#maxMs = options.maxMs ?? 10_000;
    this.#stableMs = options.stableMs ?? 30_000;
  }

  /**
   * Records that mpv failed at `nowMs` after running since `startedAtMs` (undefined: it never
   * came up) and returns how long to wait before the next start.
   */
  failed(nowMs: number, startedAtMs: number | undefined): number {
    if (startedAtMs !== undefined && nowMs - startedAtMs >= this.#stableMs) this.#failures = 0;
    const delay = Math.min(this.#maxMs, this.#initialMs * 2 ** this.#failures);
    this.#failures++;
    this.#restarts.push(nowMs);
    this.#prune(nowMs);
    return delay;
  }

  /** How long mpv must run to count as stable. */
  get stableMs(): number {
    return this.#stableMs;
  }

  /** Restarts in the hour before `nowMs`. */
  restartsLastHour(nowMs: number): number {
    this.#prune(nowMs);
    return this.#restarts.length;
  }

  /** True when failures have pushed the delay to its maximum: mpv keeps failing right after start. */
  get crashLoop(): boolean {
    return this.#initialMs * 2 ** Math.max(0, this.#failures - 1) >= this.#maxMs;
  }

  /** Forgets failures once mpv has run stably (the crash loop is over). */
  stable(): void {
    this.#failures = 0;
  }

  #prune(nowMs: number): void {
    while (this.#restarts.length > 0 && (this.#restarts[0] ?? 0) <= nowMs - hourMs) this.#restarts.shift();
  }
}
