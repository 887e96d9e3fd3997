import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgScreenStore } from "../../src/fleet/pg/index.ts";
import { maintainPartitions } from "../../src/fleet/report/index.ts";
import { openPgFleetDatabase, type PgFleetDatabase } from "../fleet-pg/pg-fleet.ts";

/**
 * Partition maintenance against screen deletes. A partition of a table with a foreign key to `screens` adds
 * triggers to `screens` when it is created or dropped, so the DDL needs a lock on `screens` as well as its parent,
 * while deleting a screen holds `screens` and cascades into the parents: taken in opposite orders, the two
 * deadlocked (a DeleteScreen answered INTERNAL in CI while the startup maintenance ran).
 */
describe("partition maintenance and screen deletes", () => {
  let pgf: PgFleetDatabase;
  let tenant: string;

  beforeAll(async () => {
    pgf = await openPgFleetDatabase();
    tenant = await pgf.tenant("partition-locks");
  });
  afterAll(() => pgf.close());

  it("creates and drops partitions while screens are deleted, without a deadlock or lock timeout", async () => {
    const ids = await pgf.bareScreens(tenant, "del-", 400);
    const screens = new PgScreenStore(pgf.pool);
    const policy = { rawRetentionDays: 7, rollupRetentionMonths: 13 };
    const deletes = (async () => {
      for (const id of ids) await screens.delete(tenant, id);
    })();
    // Each run is a month later than the last: it creates that month's partitions and drops the expired ones.
    const maintenance = (async () => {
      let created = 0;
      for (let month = 0; month < 12; month++) {
        const result = await maintainPartitions(pgf.pool, policy, new Date(Date.UTC(2027, month, 15)));
        created += result.created.length + result.dropped.length;
      }
      return created;
    })();
    const [, changed] = await Promise.all([deletes, maintenance]);
    expect(changed).toBeGreaterThan(100);
    const left = await pgf.pool.query("SELECT count(*)::int AS n FROM screens WHERE hardware_id LIKE 'del-%'");
    expect(left.rows[0]?.n).toBe(0);
  });
});
