import type pg from "pg";
import { partitionedTables, planPartitions, type RetentionPolicy } from "./retention.ts";

/** What one maintenance run changed. */
export interface MaintenanceResult {
  created: string[];
  dropped: string[];
  /** Dedup keys of counted-only events forgotten (received longer ago than the raw retention). */
  lateKeysPruned: number;
}

/** Any number works as long as every replica uses the same one: it serialises maintenance runs. */
const maintenanceLock = 7_146_601;

/**
 * Creates the partitions accepted events need and drops the expired ones (retention.ts decides
 * which), and forgets counted-only dedup keys received more than `rawRetentionDays` ago. Expiry is
 * a partition drop, never a DELETE of rows, except for those keys (a small, unpartitioned table
 * of late events only).
 *
 * WARNING: creating or dropping a partition takes an ACCESS EXCLUSIVE lock on its parent for a few
 * milliseconds; while it waits for one, inserts into the parent queue behind it. So each DDL runs
 * in its own transaction with a 2 s `lock_timeout`: a report holding a long read on a partition
 * makes the drop fail (and the next run retry it) rather than stall play-event writes. The DDL
 * also locks the tables the parent's foreign keys reference (screens, tenants), first: see
 * {@link withReferencedLocked}.
 * Runs from several replicas are serialised by a session advisory lock.
 */
export function maintainPartitions(pool: pg.Pool, policy: RetentionPolicy, now: Date): Promise<MaintenanceResult> {
  return run(pool, policy, now, true);
}

/**
 * Creates the partitions accepted events need, and nothing else (the ingest calls it on its first
 * write of each UTC day, and when a write found a partition missing).
 */
export async function ensurePartitions(pool: pg.Pool, policy: RetentionPolicy, now: Date): Promise<void> {
  await run(pool, policy, now, false);
}

async function run(pool: pg.Pool, policy: RetentionPolicy, now: Date, expire: boolean): Promise<MaintenanceResult> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [maintenanceLock]);
    try {
      await client.query("SET lock_timeout = '2s'");
      const existing = new Map<string, string[]>();
      const { rows } = await client.query<{ parent: string; child: string }>(
        `SELECT p.relname AS parent, c.relname AS child
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
          WHERE p.relname = ANY($1::text[]) AND p.relnamespace = current_schema()::regnamespace`,
        [partitionedTables.map((table) => table.name)],
      );
      for (const row of rows) existing.set(row.parent, [...(existing.get(row.parent) ?? []), row.child]);
      const plan = planPartitions(existing, now, policy);
      const result: MaintenanceResult = { created: [], dropped: [], lateKeysPruned: 0 };
      const referenced = await referencedTables(client);
      for (const partition of plan.create) {
        await withReferencedLocked(client, referenced.get(partition.table) ?? [], () =>
          client.query(
            `CREATE TABLE IF NOT EXISTS "${partition.name}" PARTITION OF "${partition.table}"
               FOR VALUES FROM ('${partition.start.toISOString()}') TO ('${partition.end.toISOString()}')`,
          ),
        );
        result.created.push(partition.name);
      }
      if (!expire) return result;
      for (const partition of plan.drop) {
        await withReferencedLocked(client, referenced.get(partition.table) ?? [], () =>
          client.query(`DROP TABLE IF EXISTS "${partition.name}"`),
        );
        result.dropped.push(partition.name);
      }
      const pruned = await client.query("DELETE FROM play_event_late_keys WHERE received_at < $1", [
        new Date(now.getTime() - policy.rawRetentionDays * 86_400_000),
      ]);
      result.lateKeysPruned = pruned.rowCount ?? 0;
      return result;
    } finally {
      await client.query("RESET lock_timeout").catch(() => undefined);
      await client.query("SELECT pg_advisory_unlock($1)", [maintenanceLock]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** True for the error an insert gets when no partition holds its row (check_violation, "no partition of relation"). */
export function isMissingPartition(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code === "23514" && typeof message === "string" && message.includes("no partition of relation");
}

/** The tables each partitioned table's foreign keys point at (e.g. play_events → screens, tenants), by name. */
async function referencedTables(client: pg.PoolClient): Promise<Map<string, string[]>> {
  const { rows } = await client.query<{ parent: string; referenced: string }>(
    `SELECT DISTINCT p.relname AS parent, r.relname AS referenced
       FROM pg_constraint c JOIN pg_class p ON p.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid
      WHERE c.contype = 'f' AND p.relname = ANY($1::text[]) AND p.relnamespace = current_schema()::regnamespace
      ORDER BY r.relname`,
    [partitionedTables.map((table) => table.name)],
  );
  const referenced = new Map<string, string[]>();
  for (const row of rows) referenced.set(row.parent, [...(referenced.get(row.parent) ?? []), row.referenced]);
  return referenced;
}

/**
 * Runs one partition DDL in a transaction that first locks the tables its parent's foreign keys reference.
 * Creating or dropping a partition adds or removes foreign-key triggers on those tables, so the DDL locks them
 * too, but only after its parent; deleting a screen or tenant locks them first and then cascades into the
 * parent. Taking them here first, in name order, gives both one order, so they queue instead of deadlocking.
 */
async function withReferencedLocked(
  client: pg.PoolClient,
  referenced: readonly string[],
  ddl: () => Promise<unknown>,
): Promise<void> {
  await client.query("BEGIN");
  try {
    for (const table of referenced) await client.query(`LOCK TABLE "${table}" IN SHARE ROW EXCLUSIVE MODE`);
    await ddl();
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
