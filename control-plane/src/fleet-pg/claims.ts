import type pg from "pg";

interface OpenClaim {
  client: pg.PoolClient;
  timer: NodeJS.Timeout;
}

/**
 * Joins ClaimScreen's two port calls — `pairings.claim(code, {screenId})` then
 * `screens.create({id: screenId})` — into ONE database transaction without the service knowing:
 * the claim's conditional UPDATE runs in an open transaction parked here under the new screen id,
 * and the screen insert with that id commits it. A claim whose screen never arrives is rolled back
 * after `timeoutMs`, which frees the code again.
 *
 * INVARIANTS: a parked transaction holds the pairing row's lock, so a concurrent claim of the same
 * code waits and then finds it claimed (or free again after a rollback); every parked connection
 * is released exactly once (by take+commit/rollback or by the timer or by close).
 */
export class ClaimTransactions {
  readonly #open = new Map<string, OpenClaim>();
  readonly #timeoutMs: number;

  constructor(timeoutMs = 10_000) {
    this.#timeoutMs = timeoutMs;
  }

  /** Parks the open transaction `client` until the screen `screenId` is created. */
  park(screenId: string, client: pg.PoolClient): void {
    const timer = setTimeout(() => {
      if (this.#open.get(screenId)?.client !== client) return;
      this.#open.delete(screenId);
      void rollbackAndRelease(client);
    }, this.#timeoutMs);
    timer.unref();
    this.#open.set(screenId, { client, timer });
  }

  /** The parked transaction for `screenId` (now the caller's to commit or roll back), if any. */
  take(screenId: string): pg.PoolClient | undefined {
    const open = this.#open.get(screenId);
    if (!open) return undefined;
    clearTimeout(open.timer);
    this.#open.delete(screenId);
    return open.client;
  }

  /** Rolls back every parked claim (shutdown). */
  async close(): Promise<void> {
    const open = [...this.#open.values()];
    this.#open.clear();
    for (const { timer } of open) clearTimeout(timer);
    await Promise.all(open.map(({ client }) => rollbackAndRelease(client)));
  }
}

/** Rolls back and returns the connection to the pool. */
export async function rollbackAndRelease(client: pg.PoolClient): Promise<void> {
  try {
    await client.query("ROLLBACK");
    client.release();
  } catch (error) {
    client.release(error as Error);
  }
}
