import { randomUUID } from "node:crypto";
import { PlayEventSchema, PlayOutcome } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventKey } from "../../src/fleet/pg/index.ts";
import { createOrm, type MikroORM } from "../../src/platform/db/orm.ts";
import { createTestDatabase, type TestDatabase } from "../lib/test-database.ts";

/**
 * Migration20261206200000_play_reports on a database holding play events in the old table (one
 * row per event, the encoded PlayEvent in `event`): they are kept, placed as the ingest would
 * place them now, and counted in the rollups. Times are relative to the real clock, as the
 * migration's are.
 */
describe("the play-report migration", () => {
  let database: TestDatabase;
  let orm: MikroORM;
  let pool: pg.Pool;
  const tenant = randomUUID();
  const group = randomUUID();
  const screen = randomUUID();
  const videoId = randomUUID();
  const playlistId = randomUUID();
  const ago = (days: number, hour = 9) => {
    const at = new Date(Date.now() - days * 86_400_000);
    at.setUTCHours(hour, 15, 0, 0);
    return at;
  };
  const events = {
    recent: { id: randomUUID(), startedAt: ago(1) },
    named: { id: "player-4/event-17", startedAt: ago(2, 10) },
    old: { id: randomUUID(), startedAt: ago(40) },
    ancient: { id: randomUUID(), startedAt: ago(800) },
    noStart: { id: randomUUID(), startedAt: undefined },
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    orm = await createOrm({ url: database.url, poolMax: 2 });
    await orm.migrator.up({ to: "Migration20261206160000_screen_list_indexes" });
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    await pool.query(
      `INSERT INTO tenants (id, slug, name, storage_quota_bytes, screen_quota, created_at)
       VALUES ($1, 'old-site', 'Old site', 1000000000, 100, now())`,
      [tenant],
    );
    await pool.query("INSERT INTO groups (id, tenant_id, name, created_at) VALUES ($1, $2, 'Lobbies', now())", [
      group,
      tenant,
    ]);
    await pool.query(
      `INSERT INTO screens (id, tenant_id, name, hardware_id, group_id, timezone, settings, created_at)
       VALUES ($1, $2, 'lobby', 'hw-lobby', $3, 'Europe/Madrid', '{}', now() - interval '3 years')`,
      [screen, tenant, group],
    );
    for (const { id, startedAt } of Object.values(events)) {
      const event = create(PlayEventSchema, {
        eventId: id,
        videoId,
        playlistId,
        assetSha256: "cd".repeat(32),
        startedAt: startedAt && timestampFromDate(startedAt),
        endedAt: startedAt && timestampFromDate(new Date(startedAt.getTime() + 12_000)),
        outcome: PlayOutcome.COMPLETED,
      });
      await pool.query(
        "INSERT INTO play_events (tenant_id, screen_id, event_id, started_at, event) VALUES ($1, $2, $3, $4, $5)",
        [tenant, screen, id, startedAt ?? null, Buffer.from(toBinary(PlayEventSchema, event))],
      );
    }
    await orm.migrator.up();
  });
  afterAll(async () => {
    await pool.end();
    await orm.close();
    await database.drop();
  });

  it("keeps the last 7 days raw, counts the last 13 months, and drops what has no hour to count in", async () => {
    const raw = await pool.query(
      "SELECT event_key, started_at, played_ms, video_id, asset_sha256 FROM play_events ORDER BY started_at",
    );
    expect(raw.rows).toEqual([
      {
        event_key: eventKey(events.named.id),
        started_at: events.named.startedAt,
        played_ms: 12_000,
        video_id: videoId,
        asset_sha256: Buffer.from("cd".repeat(32), "hex"),
      },
      {
        event_key: events.recent.id,
        started_at: events.recent.startedAt,
        played_ms: 12_000,
        video_id: videoId,
        asset_sha256: Buffer.from("cd".repeat(32), "hex"),
      },
    ]);
    expect((await pool.query("SELECT event_key FROM play_event_late_keys")).rows).toEqual([
      { event_key: events.old.id },
    ]);
    const hourly = await pool.query(
      `SELECT hour, video_id, playlist_id, group_id, time_zone, plays, completed, played_ms::int AS played_ms
         FROM play_hourly WHERE screen_id = $1 ORDER BY hour`,
      [screen],
    );
    const hourOf = (at: Date) => new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000);
    expect(hourly.rows).toEqual(
      [events.old.startedAt, events.named.startedAt, events.recent.startedAt].map((at) => ({
        hour: hourOf(at),
        video_id: videoId,
        playlist_id: playlistId,
        group_id: group,
        time_zone: "Europe/Madrid",
        plays: 1,
        completed: 1,
        played_ms: 12_000,
      })),
    );
    const tenantTotals = await pool.query(
      "SELECT sum(plays)::int AS plays FROM play_group_clip_hourly WHERE tenant_id = $1 AND group_id = $2",
      [tenant, group],
    );
    expect(tenantTotals.rows).toEqual([{ plays: 3 }]);
    const perClip = await pool.query(
      "SELECT video_id, sum(plays)::int AS plays FROM play_tenant_hourly WHERE tenant_id = $1 GROUP BY video_id",
      [tenant],
    );
    expect(perClip.rows).toEqual([{ video_id: videoId, plays: 3 }]);
    const perGroup = await pool.query(
      "SELECT group_id, sum(plays)::int AS plays FROM play_group_hourly WHERE tenant_id = $1 GROUP BY group_id",
      [tenant],
    );
    expect(perGroup.rows).toEqual([{ group_id: group, plays: 3 }]);
    const perScreen = await pool.query("SELECT sum(plays)::int AS plays FROM play_screen_hourly WHERE screen_id = $1", [
      screen,
    ]);
    expect(perScreen.rows).toEqual([{ plays: 3 }]);
    expect((await pool.query("SELECT to_regclass('play_events_v1') AS old")).rows).toEqual([{ old: null }]);
  });
});
