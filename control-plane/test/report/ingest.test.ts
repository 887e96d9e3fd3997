import { randomUUID } from "node:crypto";
import { type PlayEvent, PlayEventSchema, PlayOutcome } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDbAssetCatalog, createDbPublishSources } from "../../src/core/schedule/index.ts";
import { createPgFleetStores, eventKey, type PgFleetStores, PgPlayEventStore } from "../../src/fleet/pg/index.ts";
import { maintainPartitions } from "../../src/fleet/report/index.ts";
import { openPgFleetDatabase, type PgFleetDatabase } from "../fleet-pg/pg-fleet.ts";
import { enrollScreen, eventually, openStream } from "../lib/fleet-device.ts";
import { type FleetTestServer, ManualClock, startFleetTestServer } from "../lib/fleet-server.ts";

/**
 * The play-event write path on PostgreSQL: dedup (through the real device stream, and between two
 * replicas), late events in the hour they started, what is kept raw, counted only or refused, and
 * expiry by dropping partitions. The clock is fixed at 2026-11-20T12:00Z unless a test moves it.
 */
const policy = { rawRetentionDays: 7, rollupRetentionMonths: 13 };
const logger = pino({ level: "silent" });
const videoId = randomUUID();
const playlistId = randomUUID();

/** A completed 10-second play of the test clip that started at `startedAt`. */
function play(startedAt: string, fields: MessageInitShape<typeof PlayEventSchema> = {}): PlayEvent {
  const start = new Date(startedAt);
  return create(PlayEventSchema, {
    eventId: randomUUID(),
    assetSha256: "ab".repeat(32),
    videoId,
    playlistId,
    startedAt: timestampFromDate(start),
    endedAt: timestampFromDate(new Date(start.getTime() + 10_000)),
    outcome: PlayOutcome.COMPLETED,
    ...fields,
  });
}

describe("play events on PostgreSQL", () => {
  let pgf: PgFleetDatabase;
  let clock: ManualClock;
  let pool: pg.Pool;
  let stores: PgFleetStores;
  let server: FleetTestServer<PgFleetStores>;
  let tenant: string;

  const sql = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) =>
    (await pgf.pool.query<R>(text, params)).rows;
  /** Plays, completed plays and milliseconds in a screen's hourly rollup. */
  const screenTotals = async (screenId: string) =>
    (
      await sql<{ plays: number; completed: number; ms: number }>(
        `SELECT coalesce(sum(plays), 0)::int AS plays, coalesce(sum(completed), 0)::int AS completed,
                coalesce(sum(played_ms), 0)::int AS ms FROM play_hourly WHERE screen_id = $1`,
        [screenId],
      )
    )[0];
  /** Plays in the per-screen rollup (all clips together). */
  const screenHourPlays = async (screenId: string) =>
    (
      await sql<{ plays: number }>(
        "SELECT coalesce(sum(plays), 0)::int AS plays FROM play_screen_hourly WHERE screen_id = $1",
        [screenId],
      )
    )[0]?.plays;
  /** Plays of the tenant in its three rollups without screens (per group and clip, per group, per clip): they must agree. */
  const tenantPlays = async (tenantId: string) => {
    const [row] = await sql<{ groupClips: number; groups: number; clips: number }>(
      `SELECT (SELECT coalesce(sum(plays), 0)::int FROM play_group_clip_hourly WHERE tenant_id = $1) AS "groupClips",
              (SELECT coalesce(sum(plays), 0)::int FROM play_group_hourly WHERE tenant_id = $1) AS groups,
              (SELECT coalesce(sum(plays), 0)::int FROM play_tenant_hourly WHERE tenant_id = $1) AS clips`,
      [tenantId],
    );
    expect(row?.groupClips).toBe(row?.clips);
    expect(row?.groups).toBe(row?.clips);
    return row?.clips;
  };
  const rawCount = async (screenId: string) =>
    (await sql<{ n: number }>("SELECT count(*)::int AS n FROM play_events WHERE screen_id = $1", [screenId]))[0]?.n;
  const newScreen = async (hardwareId: string) => {
    const credentials = await enrollScreen(server, hardwareId, tenant);
    return credentials;
  };

  beforeAll(async () => {
    pgf = await openPgFleetDatabase();
    clock = new ManualClock(Date.parse("2026-11-20T12:00:00Z"));
    pool = new pg.Pool({ connectionString: pgf.db.database.url, max: 5 });
    stores = createPgFleetStores({
      pool,
      logger,
      core: { publishSources: createDbPublishSources(pgf.db.orm), assets: createDbAssetCatalog(pgf.db.orm) },
      plays: { policy, flushMs: 5 },
      clock,
    });
    server = await startFleetTestServer({ stores, clock });
    tenant = await pgf.tenant(`plays-${randomUUID()}`);
  });
  afterAll(async () => {
    await server.close();
    await pool.end();
    await pgf.close();
  });

  it("counts a batch sent twice, repeated inside one batch, or resent after a reconnect once", async () => {
    const { deviceId, deviceToken } = await newScreen("pop-dedup");
    let stream = openStream(server.device(), deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    const batch = [0, 1, 2].map((n) => play(`2026-11-20T10:00:${n}0Z`));
    const twice = play("2026-11-20T10:01:00Z");
    const marker = play("2026-11-20T10:02:00Z");
    stream.send({ case: "playEvents", value: { events: batch } });
    stream.send({ case: "playEvents", value: { events: batch } });
    stream.send({ case: "playEvents", value: { events: [twice, twice] } });
    stream.send({ case: "playEvents", value: { events: [marker] } });
    // A stream handles its messages in order: once the marker is stored, so is everything before it.
    await eventually(async () => (await rawCount(deviceId)) === 5);
    expect(await screenTotals(deviceId)).toEqual({ plays: 5, completed: 5, ms: 50_000 });

    // The player lost the stream before it marked the first batch sent: it resends it with a new play.
    stream.hangUp();
    await stream.ended;
    stream = openStream(server.device(), deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    const fresh = play("2026-11-20T10:03:00Z", { outcome: PlayOutcome.INTERRUPTED, endedAt: undefined });
    stream.send({ case: "playEvents", value: { events: [...batch, fresh] } });
    await eventually(async () => (await rawCount(deviceId)) === 6);
    expect(await screenTotals(deviceId)).toEqual({ plays: 6, completed: 5, ms: 50_000 });
    expect(await screenHourPlays(deviceId)).toBe(6);
    expect(await tenantPlays(tenant)).toBe(6);
    stream.hangUp();
  });

  it("puts a late event in the hour it started, counts events older than the raw days without keeping them, and refuses the rest", async () => {
    const { deviceId } = await newScreen("pop-late");
    const store = stores.playEvents;
    const recent = play("2026-11-17T08:15:00Z"); // 3 days before the clock: kept raw
    const old = play("2026-10-01T05:30:00Z"); // 7 weeks before: counted, no raw row
    const refused = [
      play("2025-09-30T23:59:00Z"), // before the 13 whole rollup months before November 2026 (from 2025-10-01)
      play("2026-11-21T12:00:01Z"), // more than a day ahead of the clock
      play("2026-11-20T09:00:00Z", { startedAt: undefined }),
      play("2026-11-20T09:00:00Z", { eventId: "" }),
    ];
    expect(await store.insertMany(tenant, deviceId, [recent, old, ...refused])).toBe(2);
    const hours = await sql<{ hour: Date; plays: number }>(
      "SELECT hour, plays FROM play_hourly WHERE screen_id = $1 ORDER BY hour",
      [deviceId],
    );
    expect(hours).toEqual([
      { hour: new Date("2026-10-01T05:00:00Z"), plays: 1 },
      { hour: new Date("2026-11-17T08:00:00Z"), plays: 1 },
    ]);
    expect(await sql("SELECT event_key, started_at FROM play_events WHERE screen_id = $1", [deviceId])).toEqual([
      { event_key: recent.eventId, started_at: new Date("2026-11-17T08:15:00Z") },
    ]);
    expect(await sql("SELECT event_key FROM play_event_late_keys WHERE screen_id = $1", [deviceId])).toEqual([
      { event_key: old.eventId },
    ]);
    // Both resent after a reconnect: nothing new, in either table.
    expect(await store.insertMany(tenant, deviceId, [recent, old])).toBe(0);
    expect(await screenTotals(deviceId)).toEqual({ plays: 2, completed: 2, ms: 20_000 });
  });

  it("keys an event id that is not a UUID by its MD5, as PostgreSQL's md5()::uuid does", async () => {
    const { deviceId } = await newScreen("pop-ids");
    const named = play("2026-11-20T11:00:00Z", { eventId: "batch-7/clip-3 ✓" });
    expect(await stores.playEvents.insertMany(tenant, deviceId, [named, named])).toBe(1);
    const [row] = await sql<{ event_key: string; same: boolean }>(
      "SELECT event_key, event_key = md5($2)::uuid AS same FROM play_events WHERE screen_id = $1",
      [deviceId, "batch-7/clip-3 ✓"],
    );
    expect(row).toEqual({ event_key: eventKey("batch-7/clip-3 ✓"), same: true });
  });

  it("counts the same events once when two replicas write them at the same time", async () => {
    const { deviceId } = await newScreen("pop-replicas");
    const replicas = [1, 2].map(() => {
      const own = new pg.Pool({ connectionString: pgf.db.database.url, max: 2 });
      return { pool: own, store: new PgPlayEventStore(own, { policy, flushMs: 5, clock, logger }) };
    });
    const events = Array.from({ length: 200 }, (_, n) =>
      play(new Date(Date.parse("2026-11-20T06:00:00Z") + n * 30_000).toISOString()),
    );
    const written = await Promise.all(replicas.map(({ store }) => store.insertMany(tenant, deviceId, events)));
    expect(written.reduce((sum, n) => sum + n, 0)).toBe(200);
    expect(await screenTotals(deviceId)).toEqual({ plays: 200, completed: 200, ms: 2_000_000 });
    expect(await screenHourPlays(deviceId)).toBe(200);
    for (const { pool: own } of replicas) await own.end();
  });

  it("expires raw days and rollup months by dropping their partitions; a late event still counts", async () => {
    const { deviceId } = await newScreen("pop-expiry");
    const store = stores.playEvents;
    const partitionExists = async (name: string) =>
      (await sql("SELECT 1 FROM pg_class WHERE relname = $1", [name])).length === 1;
    expect(await store.insertMany(tenant, deviceId, [play("2026-11-18T09:00:00Z")])).toBe(1);
    const early = play("2026-10-02T09:00:00Z");
    expect(await store.insertMany(tenant, deviceId, [early])).toBe(1); // a dedup key received at 2026-11-20T12:00Z

    expect((await maintainPartitions(pool, policy, clock.now())).dropped).toEqual([]);
    expect(await partitionExists("play_events_d20261118")).toBe(true);

    // Eight days on: raw days before 2026-11-20 (a day of grace past the 7) go, whole.
    const later = new Date("2026-11-28T00:00:00Z");
    const result = await maintainPartitions(pool, policy, later);
    expect(result.dropped).toContain("play_events_d20261118");
    expect(result.dropped).toContain("play_events_d20261119");
    expect(result.dropped.filter((name) => name.startsWith("play_events_d2026112"))).toEqual([]);
    expect(result.created).toContain("play_events_d20261201");
    expect(result.lateKeysPruned).toBeGreaterThanOrEqual(1);
    expect(await partitionExists("play_events_d20261118")).toBe(false);
    expect(await partitionExists("play_events_d20261120")).toBe(true);
    expect(await rawCount(deviceId)).toBe(0);
    // The rollups keep the plays whose raw rows went.
    expect((await screenTotals(deviceId))?.plays).toBe(2);

    // A screen back from days offline sends a play of the dropped day: counted in its hour, not kept raw.
    clock.advance(later.getTime() - clock.now().getTime());
    const late = play("2026-11-18T09:30:00Z");
    expect(await store.insertMany(tenant, deviceId, [late])).toBe(1);
    expect(await rawCount(deviceId)).toBe(0);
    expect(
      await sql<{ plays: number }>("SELECT plays FROM play_hourly WHERE screen_id = $1 AND hour = $2", [
        deviceId,
        new Date("2026-11-18T09:00:00Z"),
      ]),
    ).toEqual([{ plays: 2 }]);

    // Thirteen whole months after November 2026 (and a day), its rollup month goes too.
    const yearOn = await maintainPartitions(pool, policy, new Date("2028-01-02T01:00:00Z"));
    expect(yearOn.dropped).toEqual(
      expect.arrayContaining([
        "play_hourly_m202611",
        "play_screen_hourly_m202611",
        "play_group_clip_hourly_m202611",
        "play_group_hourly_m202611",
        "play_tenant_hourly_m202611",
        "screen_uptime_hourly_m202611",
      ]),
    );
    expect(await partitionExists("play_hourly_m202611")).toBe(false);
    expect(await partitionExists("play_hourly_m202612")).toBe(true);
    expect(await sql("SELECT 1 FROM play_hourly WHERE screen_id = $1 AND hour < '2026-12-01'", [deviceId])).toEqual([]);
  });
});
