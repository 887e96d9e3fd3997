import { randomUUID } from "node:crypto";
import { PlayEventSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PairingRecord, ScreenRecord } from "../../src/fleet/index.ts";
import {
  ClaimTransactions,
  PgEnrollmentKeyStore,
  PgPairingStore,
  PgPlayEventStore,
  PgScreenStatusStore,
  PgScreenStore,
} from "../../src/fleet-pg/index.ts";
import { openPgFleetDatabase, type PgFleetDatabase } from "./pg-fleet.ts";

const now = () => new Date();
const pairing = (code: string, hardwareId: string): PairingRecord => ({
  code,
  secretHash: randomUUID().replaceAll("-", ""),
  hardwareId,
  facts: undefined,
  ip: "127.0.0.1",
  createdAt: now(),
  expiresAt: new Date(Date.now() + 600_000),
  claimedTenantId: undefined,
  claimedScreenId: undefined,
  delivered: false,
});
const screen = (tenantId: string, id: string, hardwareId: string): ScreenRecord => ({
  id,
  tenantId,
  hardwareId,
  name: hardwareId,
  groupId: "",
  tags: [],
  timezone: "UTC",
  volumePercent: 100,
  orientation: 0,
  displayHours: [],
  model: "",
  osVersion: "",
  playerVersion: "",
  firstSeenAt: now(),
  claimedAt: now(),
  tokenHash: undefined,
  revision: 1,
});

describe("fleet stores on PostgreSQL under concurrency", () => {
  let pgf: PgFleetDatabase;
  let tenant: string;

  beforeAll(async () => {
    pgf = await openPgFleetDatabase();
    tenant = await pgf.tenant("stores");
  });
  afterAll(() => pgf.close());

  it("lets exactly one of 20 concurrent claims of a code win, committed with its screen", async () => {
    const claims = new ClaimTransactions();
    const pairings = new PgPairingStore(pgf.pool, claims);
    const screens = new PgScreenStore(pgf.pool, claims);
    expect(await pairings.create(pairing("BCDFGHJK", "pi-race"))).toBe(true);
    expect(await pairings.create(pairing("BCDFGHJK", "pi-other"))).toBe(false);
    const ids = Array.from({ length: 20 }, () => randomUUID());
    const outcomes = await Promise.all(
      ids.map((screenId) => pairings.claim("BCDFGHJK", { tenantId: tenant, screenId }, now())),
    );
    const winners = ids.filter((_, i) => outcomes[i] !== undefined);
    expect(winners).toHaveLength(1);
    const winner = winners[0] ?? "";
    await screens.create(screen(tenant, winner, "pi-race"));
    expect((await screens.get(tenant, winner))?.hardwareId).toBe("pi-race");
    const { rows } = await pgf.pool.query("SELECT claimed_screen_id FROM pairing_codes WHERE code = 'BCDFGHJK'");
    expect(rows).toEqual([{ claimed_screen_id: winner }]);
  });

  it("rolls back a claim whose screen never arrives, which frees the code until it is pruned", async () => {
    const claims = new ClaimTransactions(100);
    const pairings = new PgPairingStore(pgf.pool, claims);
    await pairings.create(pairing("CDFGHJKL", "pi-abandoned"));
    expect(await pairings.claim("CDFGHJKL", { tenantId: tenant, screenId: randomUUID() }, now())).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await pairings.claim("CDFGHJKL", { tenantId: tenant, screenId: randomUUID() }, now())).toBeDefined();
    await claims.close();
    const later = new Date(Date.now() + 3_600_000);
    expect(await pairings.prune(later)).toBeGreaterThanOrEqual(1);
    expect(await pairings.claim("CDFGHJKL", { tenantId: tenant, screenId: randomUUID() }, now())).toBeUndefined();
  });

  it("counts at most max_uses of an enrollment key under 20 concurrent uses", async () => {
    const keys = new PgEnrollmentKeyStore(pgf.pool);
    await keys.create({
      id: randomUUID(),
      tenantId: tenant,
      name: "five",
      groupId: "",
      secretHash: "f".repeat(64),
      maxUses: 5,
      uses: 0,
      expiresAt: undefined,
    });
    const used = await Promise.all(Array.from({ length: 20 }, () => keys.use("f".repeat(64), now())));
    expect(used.filter(Boolean)).toHaveLength(5);
  });

  it("stores a resent play-event batch once", async () => {
    const screens = new PgScreenStore(pgf.pool, new ClaimTransactions());
    const id = randomUUID();
    await screens.create(screen(tenant, id, "pi-play"));
    const events = Array.from({ length: 3 }, (_, i) => create(PlayEventSchema, { eventId: `e-${i}`, videoId: "v" }));
    const store = new PgPlayEventStore(pgf.pool);
    expect(await store.insertMany(tenant, id, events)).toBe(3);
    expect(await store.insertMany(tenant, id, [...events, create(PlayEventSchema, { eventId: "e-3" })])).toBe(1);
  });

  it("writes 2,000 screens' heartbeats in one flush statement", async () => {
    await pgf.pool.query(
      `INSERT INTO screens (id, tenant_id, name, hardware_id, settings, created_at)
       SELECT gen_random_uuid(), $1, 'hb-' || n, 'hb-' || n, '{}', now() FROM generate_series(1, 2000) AS n`,
      [tenant],
    );
    const { rows } = await pgf.pool.query<{ id: string }>("SELECT id FROM screens WHERE hardware_id LIKE 'hb-%'");
    const statuses = new PgScreenStatusStore(pgf.pool);
    await pgf.pool.query(
      "INSERT INTO screen_status (screen_id, stream_open) SELECT id, true FROM screens WHERE hardware_id LIKE 'hb-%'",
    );
    const seen = new Date();
    for (const { id } of rows) await statuses.patch(id, { lastSeenAt: seen, lastHealth: undefined });
    expect(statuses.pendingCount).toBe(2000);
    const started = performance.now();
    expect(await statuses.flush()).toBe(2000);
    const elapsedMs = performance.now() - started;
    expect(statuses.pendingCount).toBe(0);
    const check = await pgf.pool.query(
      "SELECT count(*)::int AS n FROM screen_status s JOIN screens c ON c.id = s.screen_id WHERE c.hardware_id LIKE 'hb-%' AND s.last_seen_at = $1",
      [seen],
    );
    expect(check.rows[0]?.n).toBe(2000);
    // One statement for the whole batch; generous bound for a loaded 2-core machine.
    expect(elapsedMs).toBeLessThan(5000);
  });
});
