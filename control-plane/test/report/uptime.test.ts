import { randomUUID } from "node:crypto";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { UptimeReportQuerySchema } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDbAssetCatalog, createDbContentNames, createDbPublishSources } from "../../src/core/schedule/index.ts";
import { createPgFleetStores, type PgFleetStores } from "../../src/fleet/pg/index.ts";
import { createReportReader, PgReportStore, type ReportReader, type UptimeRow } from "../../src/fleet/report/index.ts";
import { openPgFleetDatabase, type PgFleetDatabase } from "../fleet-pg/pg-fleet.ts";
import { enrollScreen, eventually, openStream, type TestStream } from "../lib/fleet-device.ts";
import { type FleetTestServer, ManualClock, startFleetTestServer } from "../lib/fleet-server.ts";

/**
 * Uptime from real heartbeats on the device stream (the clock moved by hand between them), written
 * by the heartbeat flush and read back as an uptime report on PostgreSQL.
 */
describe("screen uptime", () => {
  let pgf: PgFleetDatabase;
  let pool: pg.Pool;
  let stores: PgFleetStores;
  let server: FleetTestServer<PgFleetStores>;
  let reader: ReportReader;
  let tenant: string;
  const clock = new ManualClock(Date.parse("2026-11-20T09:59:30Z"));

  beforeAll(async () => {
    pgf = await openPgFleetDatabase();
    pool = new pg.Pool({ connectionString: pgf.db.database.url, max: 5 });
    stores = createPgFleetStores({
      pool,
      logger: pino({ level: "silent" }),
      core: { publishSources: createDbPublishSources(pgf.db.orm), assets: createDbAssetCatalog(pgf.db.orm) },
      plays: { policy: { rawRetentionDays: 7, rollupRetentionMonths: 13 }, flushMs: 5 },
      clock,
    });
    server = await startFleetTestServer({ stores, clock });
    reader = createReportReader({
      store: new PgReportStore(pool),
      names: createDbContentNames(pgf.db.orm),
      clock,
      limits: { maxRangeDays: 400 },
    });
    tenant = await pgf.tenant(`uptime-${randomUUID()}`);
    // Recording began when the migration ran (the real date); this test's days are earlier.
    await pgf.pool.query("UPDATE uptime_recording SET started_at = '2026-01-01T00:00:00Z'");
  });
  afterAll(async () => {
    await server.close();
    await pool.end();
    await pgf.close();
  });

  /** Moves the clock by `ms`, sends a heartbeat in `state`, and waits until the server handled it. */
  async function beat(stream: TestStream, screenId: string, ms: number, state: PlaybackState): Promise<void> {
    clock.advance(ms);
    const at = clock.now().getTime();
    stream.send({ case: "heartbeat", value: { sentAt: timestampFromDate(clock.now()), playback: { state } } });
    await eventually(async () => (await stores.statuses.get(screenId))?.lastSeenAt?.getTime() === at);
  }

  const seconds = (row: UptimeRow) => ({
    date: row.date,
    dayStart: row.dayStart.toISOString(),
    dayEnd: row.dayEnd.toISOString(),
    zone: row.timeZone,
    playing: row.playingMs / 1000,
    displayOff: row.displayOffMs / 1000,
    idle: row.idleMs / 1000,
    offline: row.offlineMs / 1000,
    untracked: row.untrackedMs / 1000,
  });

  it("counts heartbeats as online time by state, the rest of the screen's life offline, before it untracked", async () => {
    const { deviceId, deviceToken } = await enrollScreen(server, "uptime-1", tenant);
    const stream = openStream(server.device(), deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    for (let n = 0; n < 4; n++) await beat(stream, deviceId, 15_000, PlaybackState.PLAYING);
    for (let n = 0; n < 2; n++) await beat(stream, deviceId, 15_000, PlaybackState.DISPLAY_OFF);
    // Five minutes of silence on an open stream: only two intervals (30 s) are credited.
    await beat(stream, deviceId, 315_000, PlaybackState.STANDBY);
    stream.hangUp();
    await stream.ended;
    await stores.flush();

    const hours = await pgf.pool.query(
      "SELECT hour, playing_ms, display_off_ms, idle_ms FROM screen_uptime_hourly WHERE screen_id = $1 ORDER BY hour",
      [deviceId],
    );
    expect(hours.rows).toEqual([
      { hour: new Date("2026-11-20T09:00:00Z"), playing_ms: 30_000, display_off_ms: 0, idle_ms: 0 },
      { hour: new Date("2026-11-20T10:00:00Z"), playing_ms: 30_000, display_off_ms: 30_000, idle_ms: 30_000 },
    ]);

    clock.advance(240_000); // now 10:10:15
    const utc = await reader.uptimeQuery(
      tenant,
      create(UptimeReportQuerySchema, {
        window: {
          start: timestampFromDate(new Date("2026-11-20T00:00:00Z")),
          end: timestampFromDate(new Date("2026-11-21T00:00:00Z")),
        },
        screenIds: [deviceId],
      }),
    );
    const { rows } = await reader.uptimePage(utc, { size: 100, after: undefined });
    // Tracked from its creation (09:59:30) to now (10:10:15): 645 s, of which 120 s online.
    expect(rows.map(seconds)).toEqual([
      {
        date: "2026-11-20",
        dayStart: "2026-11-20T00:00:00.000Z",
        dayEnd: "2026-11-21T00:00:00.000Z",
        zone: "UTC",
        playing: 60,
        displayOff: 30,
        idle: 30,
        offline: 645 - 120,
        untracked: 86_400 - 645,
      },
    ]);
    expect(rows[0]?.screenName).toBe("uptime-1");
  });

  it("cuts the days at the screen's own midnights and at the range's ends with screen_time_zone", async () => {
    const { deviceId } = await enrollScreen(server, "uptime-ny", tenant);
    await pgf.pool.query("UPDATE screens SET timezone = 'America/New_York' WHERE id = $1", [deviceId]);
    const query = await reader.uptimeQuery(
      tenant,
      create(UptimeReportQuerySchema, {
        window: {
          start: timestampFromDate(new Date("2026-11-20T00:00:00Z")),
          end: timestampFromDate(new Date("2026-11-21T00:00:00Z")),
          screenTimeZone: true,
        },
        screenIds: [deviceId],
      }),
    );
    const { rows } = await reader.uptimePage(query, { size: 100, after: undefined });
    // New York is UTC-5 in November: 00:00Z is 19:00 on the 19th there.
    expect(rows.map((row) => [row.date, row.dayStart.toISOString(), row.dayEnd.toISOString(), row.timeZone])).toEqual([
      ["2026-11-19", "2026-11-20T00:00:00.000Z", "2026-11-20T05:00:00.000Z", "America/New_York"],
      ["2026-11-20", "2026-11-20T05:00:00.000Z", "2026-11-21T00:00:00.000Z", "America/New_York"],
    ]);
    // It never connected: offline from its creation on, untracked before.
    const created = (await pgf.pool.query("SELECT created_at FROM screens WHERE id = $1", [deviceId])).rows[0]
      .created_at as Date;
    const trackedMs = clock.now().getTime() - created.getTime();
    expect(rows[1]?.offlineMs).toBe(trackedMs);
    expect(rows[0]?.untrackedMs).toBe(5 * 3_600_000);
  });
});
