/** A cancellable timer handle. */
export interface TimerHandle {
  cancel(): void;
}

/** Wall-clock time and timers, injected so tests can move time (conventions rule 10). */
export interface Clock {
  now(): Date;
  /** Calls `fn` after `ms` (clamped to 0..2^31-1). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/** The real clock. Timers are unref'd only by their owners' choice: these keep the process alive. */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Resolves after `ms` on `clock`; rejects with the signal's reason when it aborts first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      handle.cancel();
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
