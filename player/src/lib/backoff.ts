/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** First cap in ms; default 1 000. */
  initialMs?: number;
  /** Largest cap in ms; default 300 000 (5 min). */
  maxMs?: number;
  /** Growth of the cap per failure; default 2. */
  factor?: number;
  /** Source of randomness in [0, 1); default Math.random. */
  random?: () => number;
}

/**
 * Exponential backoff with FULL jitter (AWS "Exponential Backoff and Jitter"): each delay is
 * uniform in [0, cap], and the cap grows by `factor` up to `maxMs`. Full jitter spreads a fleet
 * that failed at the same moment over the whole window instead of a ±20 % band.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 1_000;
    this.#maxMs = options.maxMs ?? 300_000;
    this.#factor = options.factor ?? 2;
    this.#random = options.random ?? Math.random;
  }

  /** Failures since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The cap the next delay is drawn under. */
  get cap(): number {
    return Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt);
  }

  /** Returns the next delay in ms and grows the cap. */
  next(): number {
    const delay = Math.floor(this.#random() * this.cap);
    this.#attempt++;
    return delay;
  }

  /** Back to the initial cap (after a success). */
  reset(): void {
    this.#attempt = 0;
  }
}
