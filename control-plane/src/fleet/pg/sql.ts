import type pg from "pg";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * True for a UUID. Ids from callers are checked before they reach a `uuid` column, so a malformed
 * id is "not found" rather than a PostgreSQL syntax error surfacing as an internal error.
 */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** `""` (no group) as SQL NULL. */
export function nullIfEmpty(value: string): string | null {
  return value === "" ? null : value;
}

/** True for PostgreSQL's unique_violation. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === "23505";
}

/** Runs `work` in one transaction on a pooled connection; rolls back when it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
