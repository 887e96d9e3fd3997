import { randomUUID } from "node:crypto";
import { PlayEventSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PairingRecord, ScreenRecord } from "../../src/fleet/fleet/index.ts";
import {
  PgEnrollmentKeyStore,
  PgPairingStore,
  PgPlayEventStore,
  PgScreenStatusStore,
  PgScreenStore,
} from "../../src/fleet/pg/index.ts";
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
    const pairings = new PgPairingStore(pgf.pool);
    const screens = new PgScreenStore(pgf.pool);
    expect(await pairings.create(pairing("BCDFGHJK", "pi-race"))).toBe(true);
    expect(await pairings.create(pairing("BCDFGHJK", "pi-other"))).toBe(false);
    const ids = Array.from({ length: 20 }, () => randomUUID());
    const outcomes = await Promise.all(
      ids.map((screenId) =>
        pairings.claimAndCreate("BCDFGHJK", { tenantId: tenant, screenId }, now(), (claimed) =>
          screen(tenant, screenId, claimed.hardwareId),
        ),
      ),
    );
    const winners = ids.filter((_, i) => outcomes[i] !== undefined);
    expect(winners).toHaveLength(1);
    const winner = winners[0] ?? "";
    expect((await screens.get(tenant, winner))?.hardwareId).toBe("pi-race");
    const { rows } = await pgf.pool.query("SELECT claimed_screen_id FROM pairing_codes WHERE code = 'BCDFGHJK'");
    expect(rows).toEqual([{ claimed_screen_id: winner }]);
    const created = await pgf.pool.query("SELECT count(*)::int AS n FROM screens WHERE hardware_id = 'pi-race'");
    expect(created.rows[0]?.n).toBe(1);
  });

  it("rolls back a claim whose screen cannot be created, so the code stays claimable", async () => {
    const pairings = new PgPairingStore(pgf.pool);
    const screens = new PgScreenStore(pgf.pool);
    await screens.create(screen(tenant, randomUUID(), "pi-other"));
    await pairings.create(pairing("CDFGHJKL", "pi-twice"));
    const claimAs = (hardwareId: string) => {
      const screenId = randomUUID();
      return pairings.claimAndCreate("CDFGHJKL", { tenantId: tenant, screenId }, now(), () =>
        screen(tenant, screenId, hardwareId),
      );
    };
    // The screen built for the claim has another screen's hardware id: the insert fails, the claim with it.
    await expect(claimAs("pi-other")).rejects.toThrow();
    const { rows } = await pgf.pool.query("SELECT claimed_screen_id FROM pairing_codes WHERE code = 'CDFGHJKL'");
    expect(rows).toEqual([{ claimed_screen_id: null }]);
    expect((await claimAs("pi-twice-renamed"))?.hardwareId).toBe("pi-twice-renamed");
    expect(await claimAs("pi-third")).toBeUndefined();
    const later = new Date(Date.now() + 3_600_000);
    expect(await pairings.prune(later)).toBeGreaterThanOrEqual(1);
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
      createdAt: now(),
      revokedAt: undefined,
    });
    const used = await Promise.all(Array.from({ length: 20 }, () => keys.use("f".repeat(64), now())));
    expect(used.filter(Boolean)).toHaveLength(5);
  });

  it("lists a tenant's enrollment keys newest first, and a revoked key enrolls no more screens", async () => {
    const keys = new PgEnrollmentKeyStore(pgf.pool);
    const other = await pgf.tenant("enrollment-other");
    const key = (tenantId: string, name: string, hash: string, createdAt: Date) => ({
      id: randomUUID() as string,
      tenantId,
      name,
      groupId: "",
      secretHash: hash.repeat(64),
      maxUses: 0,
      uses: 0,
      expiresAt: undefined,
      createdAt,
      revokedAt: undefined,
    });
    const older = key(tenant, "lobby", "1", new Date("2026-11-01T00:00:00Z"));
    const newer = key(tenant, "shop", "2", new Date("2026-11-02T00:00:00Z"));
    const foreign = key(other, "elsewhere", "3", new Date("2026-11-03T00:00:00Z"));
    for (const k of [older, newer, foreign]) await keys.create(k);
    const listed = await keys.list(tenant);
    expect(listed.filter((k) => [older.id, newer.id].includes(k.id)).map((k) => k.name)).toEqual(["shop", "lobby"]);
    expect(listed.some((k) => k.id === foreign.id)).toBe(false);

    expect(await keys.use(older.secretHash, now())).toMatchObject({ id: older.id, uses: 1 });
    const revokedAt = new Date("2026-11-10T00:00:00Z");
    expect(await keys.revoke(tenant, older.id, revokedAt)).toMatchObject({ id: older.id, revokedAt });
    expect(await keys.use(older.secretHash, now())).toBeUndefined();
    // Revoking again keeps the first time; another tenant's key and a malformed id are not found.
    expect((await keys.revoke(tenant, older.id, new Date()))?.revokedAt).toEqual(revokedAt);
    expect(await keys.revoke(tenant, foreign.id, revokedAt)).toBeUndefined();
    expect(await keys.revoke(tenant, "not-a-uuid", revokedAt)).toBeUndefined();
    expect(await keys.use(foreign.secretHash, now())).toMatchObject({ id: foreign.id });
  });

  it("stores a resent play-event batch once", async () => {
    const screens = new PgScreenStore(pgf.pool);
    const id = randomUUID();
    await screens.create(screen(tenant, id, "pi-play"));
    const startedAt = timestampNow();
    const events = Array.from({ length: 3 }, (_, i) =>
      create(PlayEventSchema, { eventId: `e-${i}`, videoId: "v", startedAt }),
    );
    const store = new PgPlayEventStore(pgf.pool, {
      policy: { rawRetentionDays: 7, rollupRetentionMonths: 13 },
      flushMs: 5,
      clock: { now },
      logger: pino({ level: "silent" }),
    });
    expect(await store.insertMany(tenant, id, events)).toBe(3);
    expect(
      await store.insertMany(tenant, id, [...events, create(PlayEventSchema, { eventId: "e-3", startedAt })]),
    ).toBe(1);
  });

  it("writes 2,000 screens' heartbeats in one flush statement", async () => {
    const ids = await pgf.bareScreens(tenant, "hb-", 2000);
    const statuses = new PgScreenStatusStore(pgf.pool);
    await pgf.pool.query(
      "INSERT INTO screen_status (screen_id, stream_open) SELECT id, true FROM screens WHERE hardware_id LIKE 'hb-%'",
    );
    const seen = new Date();
    for (const id of ids) await statuses.patch(id, { lastSeenAt: seen, lastHealth: undefined });
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

  it("keeps a screen's pending heartbeat when a write that takes it along fails, and the next flush stores it", async () => {
    const [id] = await pgf.bareScreens(tenant, "hb-kept-", 1);
    if (!id) throw new Error("no screen");
    await pgf.pool.query("INSERT INTO screen_status (screen_id, stream_open) VALUES ($1, true)", [id]);
    const statuses = new PgScreenStatusStore(pgf.pool);
    const seen = new Date(Math.floor(Date.now() / 1000) * 1000);
    await statuses.patch(id, { lastSeenAt: seen, playback: undefined });
    // A non-heartbeat patch takes the pending heartbeat with it; this one fails (the int column
    // overflows), as any write does while PostgreSQL is down (a stream closing during an outage).
    await expect(statuses.patch(id, { streamOpen: false, heartbeatIntervalSeconds: 2 ** 40 })).rejects.toThrow();
    expect(statuses.pendingCount).toBe(1);
    expect(await statuses.flush()).toBe(1);
    expect((await statuses.get(id))?.lastSeenAt).toEqual(seen);
  });

  it("group-commits 500 concurrent acks: applied versions only rise, and only the raising ack reports the desired version", async () => {
    const ids = await pgf.bareScreens(tenant, "ack-", 250);
    const statuses = new PgScreenStatusStore(pgf.pool);
    const published = new Date(Date.now() - 1000);
    await statuses.raiseDesiredMany(
      ids.map((screenId) => ({ screenId, version: 3n })),
      published,
    );
    const at = new Date();
    // Every screen acks version 3 and (late, out of order) version 2.
    const [latest, stale] = await Promise.all([
      Promise.all(ids.map((id) => statuses.recordApplied(id, 3n, at))),
      Promise.all(ids.map((id) => statuses.recordApplied(id, 2n, at))),
    ]);
    expect(
      latest.every((raised) => raised?.desiredVersion === 3n && raised.desiredAt?.getTime() === published.getTime()),
    ).toBe(true);
    expect(stale.every((raised) => raised === undefined)).toBe(true);
    const stored = await statuses.getMany(ids);
    expect([...stored.values()].every((status) => status.appliedVersion === 3n && status.desiredVersion === 3n)).toBe(
      true,
    );
    expect(await statuses.recordApplied(ids[0] ?? "", 3n, at)).toBeUndefined();
    expect(await statuses.recordApplied(randomUUID(), 1n, at)).toBeUndefined();
  });

  it("publishes, acks and heartbeats of the same screens in different orders at once never deadlock", async () => {
    const ids = await pgf.bareScreens(tenant, "lock-", 1500);
    const statuses = new PgScreenStatusStore(pgf.pool);
    await statuses.raiseDesiredMany(
      ids.map((screenId) => ({ screenId, version: 1n })),
      new Date(),
    );
    // A publish names its screens in whatever order its batches hold them, acks arrive in network order and
    // heartbeats flush in map order: each writer below locks the same rows in a different order. PostgreSQL
    // found deadlocks between exactly these writers under load (issue 16) until every writer locked in id order.
    const shuffled = (list: readonly string[], seed: number) =>
      list
        .map((id, index) => ({ id, key: (index * 7919 + seed * 104_729) % list.length }))
        .sort((a, b) => a.key - b.key)
        .map((entry) => entry.id);
    for (let round = 2; round <= 7; round++) {
      const version = BigInt(round);
      const at = new Date();
      for (const id of shuffled(ids, round + 1)) statuses.patch(id, { lastSeenAt: at, lastHealth: undefined });
      const halves = [ids.slice(0, ids.length / 2), ids.slice(ids.length / 2)];
      await Promise.all([
        ...halves.map((half) =>
          statuses.raiseDesiredMany(
            [...half].reverse().map((screenId) => ({ screenId, version })),
            at,
          ),
        ),
        ...shuffled(ids, round).map((id) => statuses.recordApplied(id, version - 1n, at)),
        statuses.flush(),
      ]);
    }
    const stored = await statuses.getMany(ids);
    expect([...stored.values()].every((status) => status.desiredVersion === 7n && status.appliedVersion === 6n)).toBe(
      true,
    );
  });
});
