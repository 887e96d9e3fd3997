/**
 * Serialises runs of one async job (the reconcile loop).
 *
 * INVARIANTS:
 * - At most one run of `job` is in progress at any time.
 * - A `trigger()` during a run schedules exactly one more run after it (triggers coalesce), so
 *   a target that arrives mid-run is never missed and never runs concurrently with the old one.
 * - `trigger()` resolves when a run that started after the call has finished.
 * - After `stop()`, the signal passed to the job is aborted and no new run starts.
 */
export class ExclusiveRunner {
  readonly #job: (signal: AbortSignal) => Promise<void>;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #again: Promise<void> | undefined;

  constructor(job: (signal: AbortSignal) => Promise<void>) {
    this.#job = job;
  }

  /** Requests a run; see INVARIANTS. Errors of the job are the job's to handle; they are swallowed here. */
  trigger(): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.resolve();
    if (!this.#running) {
      this.#running = this.#run();
      return this.#running;
    }
    this.#again ??= this.#running.then(() => {
      this.#again = undefined;
      return this.trigger();
    });
    return this.#again;
  }

  /** Aborts the current run and waits for it to end. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  async #run(): Promise<void> {
    try {
      await this.#job(this.#abort.signal);
    } catch {
      // The job reports its own failures; the runner only guarantees serialisation.
    } finally {
      this.#running = undefined;
    }
  }
}
