import { createHash } from "node:crypto";
import { type PlayEvent, PlayOutcome } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type pg from "pg";
import type { Logger } from "pino";
import type { Clock } from "../../platform/clock.ts";
import type { PlayEventStore } from "../fleet/ports.ts";
import { ensurePartitions, isMissingPartition } from "../report/partitions.ts";
import { placeEvent, type RetentionPolicy, retentionBounds } from "../report/retention.ts";
import { isUuid } from "./sql.ts";

/** Options of {@link PgPlayEventStore}. */
export interface PlayEventIngestOptions {
  /** Raw and rollup retention (`reports.*`); decides what is kept raw, counted only or refused. */
  policy: RetentionPolicy;
  /** How long events wait to be written together; default 1000 ms (`reports.ingestFlushMs`). */
  flushMs?: number;
  /** A batch this large is written at once instead of waiting; default 10,000 events. */
  maxBatchEvents?: number;
  clock: Clock;
  logger: Logger;
}

/** One event as the statement takes it. */
interface EventRow {
  screenId: string;
  tenantId: string;
  eventKey: string;
  startedAt: Date;
  playedMs: number;
  outcome: number;
  videoId: string | null;
  playlistId: string | null;
  ruleId: string | null;
  sha256: string | null;
}

/** One insertMany call waiting for the write that holds its events. */
interface PendingCall {
  rows: EventRow[];
  resolve(fresh: number): void;
  reject(error: unknown): void;
}

/** Why events of a batch were not stored. */
interface Refusals {
  count: number;
  noStart: number;
  noId: number;
  outOfRange: number;
  screens: Set<string>;
}

/** The longest a play counts for: a device clock that jumps must not add days of "seconds played". */
const maxPlayedMs = 3_600_000;
const nilUuid = "00000000-0000-0000-0000-000000000000";
const sha256Pattern = /^[0-9a-f]{64}$/i;

/**
 * The event's dedup key as a UUID: the id itself when it is one (what players send: randomUUID),
 * otherwise the MD5 of its UTF-8 bytes written as a UUID (PostgreSQL's `md5(id)::uuid`).
 */
export function eventKey(eventId: string): string {
  if (isUuid(eventId)) return eventId.toLowerCase();
  const hex = createHash("md5").update(eventId, "utf8").digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const uuidOrNull = (value: string) => (isUuid(value) ? value.toLowerCase() : null);

// One statement per batch (see PgPlayEventStore). $11 is the receive time, $12 where raw rows start.
const ingestSql = `
WITH v AS (
  SELECT * FROM unnest($1::int[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::int[], $7::smallint[],
                       $8::uuid[], $9::uuid[], $10::uuid[], $13::text[])
    AS v(n, tenant_id, screen_id, event_key, started_at, played_ms, outcome, video_id, playlist_id, rule_id, sha256)
), input AS (
  SELECT DISTINCT ON (v.screen_id, v.started_at, v.event_key)
         v.*, coalesce(s.group_id, '${nilUuid}') AS group_id, s.timezone AS time_zone
    FROM v JOIN screens s ON s.id = v.screen_id AND s.tenant_id = v.tenant_id
   ORDER BY v.screen_id, v.started_at, v.event_key, v.n
), raw AS (
  INSERT INTO play_events (started_at, received_at, screen_id, event_key, tenant_id, video_id, playlist_id, rule_id,
                           played_ms, outcome, asset_sha256)
  SELECT started_at, $11, screen_id, event_key, tenant_id, video_id, playlist_id, rule_id, played_ms, outcome,
         decode(sha256, 'hex')
    FROM input WHERE started_at >= $12
  ON CONFLICT DO NOTHING
  RETURNING screen_id, started_at, event_key
), late AS (
  INSERT INTO play_event_late_keys (screen_id, started_at, event_key, received_at)
  SELECT screen_id, started_at, event_key, $11 FROM input WHERE started_at < $12
  ON CONFLICT DO NOTHING
  RETURNING screen_id, started_at, event_key
), fresh AS (
  SELECT i.* FROM input i JOIN (SELECT * FROM raw UNION ALL SELECT * FROM late) k USING (screen_id, started_at, event_key)
), screen_hours AS (
  INSERT INTO play_hourly AS h (hour, screen_id, video_id, playlist_id, tenant_id, group_id, played_ms, plays, completed,
                                time_zone)
  SELECT date_trunc('hour', started_at, 'UTC'), screen_id, coalesce(video_id, '${nilUuid}'),
         coalesce(playlist_id, '${nilUuid}'), tenant_id, group_id, sum(played_ms), count(*),
         count(*) FILTER (WHERE outcome = ${PlayOutcome.COMPLETED}), time_zone
    FROM fresh GROUP BY 1, 2, 3, 4, 5, 6, 10 ORDER BY 2, 1, 3, 4
  ON CONFLICT (screen_id, hour, video_id, playlist_id) DO UPDATE
     SET played_ms = h.played_ms + excluded.played_ms, plays = h.plays + excluded.plays,
         completed = h.completed + excluded.completed, group_id = excluded.group_id, time_zone = excluded.time_zone
), screen_totals AS (
  INSERT INTO play_screen_hourly AS p (hour, screen_id, tenant_id, group_id, played_ms, plays, completed, time_zone)
  SELECT date_trunc('hour', started_at, 'UTC'), screen_id, tenant_id, group_id, sum(played_ms), count(*),
         count(*) FILTER (WHERE outcome = ${PlayOutcome.COMPLETED}), time_zone
    FROM fresh GROUP BY 1, 2, 3, 4, 8 ORDER BY 2, 1
  ON CONFLICT (screen_id, hour) DO UPDATE
     SET played_ms = p.played_ms + excluded.played_ms, plays = p.plays + excluded.plays,
         completed = p.completed + excluded.completed, group_id = excluded.group_id, time_zone = excluded.time_zone
), tenant_hours AS (
  INSERT INTO play_group_clip_hourly AS t (hour, tenant_id, group_id, video_id, playlist_id, played_ms, plays, completed,
                                       time_zone)
  SELECT date_trunc('hour', started_at, 'UTC'), tenant_id, group_id, coalesce(video_id, '${nilUuid}'),
         coalesce(playlist_id, '${nilUuid}'), sum(played_ms), count(*),
         count(*) FILTER (WHERE outcome = ${PlayOutcome.COMPLETED}), time_zone
    FROM fresh GROUP BY 1, 2, 3, 4, 5, 9 ORDER BY 2, 1, 3, 9, 4, 5
  ON CONFLICT (tenant_id, hour, group_id, time_zone, video_id, playlist_id) DO UPDATE
     SET played_ms = t.played_ms + excluded.played_ms, plays = t.plays + excluded.plays,
         completed = t.completed + excluded.completed
), group_hours AS (
  INSERT INTO play_group_hourly AS g (hour, tenant_id, group_id, played_ms, plays, completed, time_zone)
  SELECT date_trunc('hour', started_at, 'UTC'), tenant_id, group_id, sum(played_ms), count(*),
         count(*) FILTER (WHERE outcome = ${PlayOutcome.COMPLETED}), time_zone
    FROM fresh GROUP BY 1, 2, 3, 7 ORDER BY 2, 1, 3, 7
  ON CONFLICT (tenant_id, hour, group_id, time_zone) DO UPDATE
     SET played_ms = g.played_ms + excluded.played_ms, plays = g.plays + excluded.plays,
         completed = g.completed + excluded.completed
), asset_hours AS (
  INSERT INTO play_tenant_hourly AS a (hour, tenant_id, video_id, playlist_id, played_ms, plays, completed, time_zone)
  SELECT date_trunc('hour', started_at, 'UTC'), tenant_id, coalesce(video_id, '${nilUuid}'),
         coalesce(playlist_id, '${nilUuid}'), sum(played_ms), count(*),
         count(*) FILTER (WHERE outcome = ${PlayOutcome.COMPLETED}), time_zone
    FROM fresh GROUP BY 1, 2, 3, 4, 8 ORDER BY 2, 1, 8, 3, 4
  ON CONFLICT (tenant_id, hour, time_zone, video_id, playlist_id) DO UPDATE
     SET played_ms = a.played_ms + excluded.played_ms, plays = a.plays + excluded.plays,
         completed = a.completed + excluded.completed
)
SELECT n FROM fresh`;

/**
 * PlayEventStore on the partitioned `play_events` and its rollups. Calls are gathered for up to
 * `flushMs` and written by ONE statement per batch: the raw rows (`ON CONFLICT DO NOTHING` on
 * (screen_id, started_at, event_key)) or, for events older than the raw partitions, their dedup
 * keys in `play_event_late_keys`, and only the events that were new are added into the hourly
 * rollups (`play_hourly` per screen × video × playlist, `play_screen_hourly` per screen,
 * `play_group_clip_hourly` per tenant × group × zone × video × playlist, `play_group_hourly` per
 * tenant × group × zone, `play_tenant_hourly` per tenant × zone × video × playlist), in the hour
 * they started. So a batch sent twice, resent after a
 * reconnect, or twice inside one batch counts once, and the raw row and the counts never
 * disagree (one statement, one transaction).
 *
 * Each call resolves once its events are stored, with how many were new: the device stream reads
 * its next message only then, so a slow database slows the screens down instead of filling memory.
 * Events with no started_at or no event id, or that started outside the kept months (or more than
 * a day ahead of the server's clock), are refused: not stored, not counted, logged once per batch.
 */
export class PgPlayEventStore implements PlayEventStore {
  readonly #pool: pg.Pool;
  readonly #options: Required<PlayEventIngestOptions>;
  #pending: PendingCall[] = [];
  #pendingEvents = 0;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failures = 0;
  /** The UTC day whose partitions were last ensured. */
  #ensuredDay: number | undefined;
  #refusals: Refusals = { count: 0, noStart: 0, noId: 0, outOfRange: 0, screens: new Set() };
  /** Since the store was made: statements written, events in them, events that were new, milliseconds writing. */
  readonly stats = { writes: 0, events: 0, fresh: 0, writeMs: 0 };

  constructor(pool: pg.Pool, options: PlayEventIngestOptions) {
    this.#pool = pool;
    this.#options = { flushMs: 1000, maxBatchEvents: 10_000, ...options };
  }

  /** Events waiting to be written. */
  get pendingEvents(): number {
    return this.#pendingEvents;
  }

  insertMany(tenantId: string, screenId: string, events: readonly PlayEvent[]): Promise<number> {
    if (events.length === 0 || !isUuid(tenantId) || !isUuid(screenId)) return Promise.resolve(0);
    const bounds = retentionBounds(this.#options.clock.now(), this.#options.policy);
    const rows: EventRow[] = [];
    for (const event of events) {
      const refusal = !event.startedAt ? "noStart" : event.eventId === "" ? "noId" : undefined;
      const startedAt = event.startedAt && timestampDate(event.startedAt);
      if (refusal || !startedAt || placeEvent(startedAt, bounds) === "refused") {
        this.#refuse(screenId, refusal ?? "outOfRange");
        continue;
      }
      const ended = event.endedAt ? timestampDate(event.endedAt).getTime() : startedAt.getTime();
      rows.push({
        screenId: screenId.toLowerCase(),
        tenantId: tenantId.toLowerCase(),
        eventKey: eventKey(event.eventId),
        startedAt,
        playedMs: Math.min(Math.max(ended - startedAt.getTime(), 0), maxPlayedMs),
        outcome: event.outcome,
        videoId: uuidOrNull(event.videoId),
        playlistId: uuidOrNull(event.playlistId),
        ruleId: uuidOrNull(event.ruleId),
        sha256: sha256Pattern.test(event.assetSha256) ? event.assetSha256.toLowerCase() : null,
      });
    }
    if (rows.length === 0) {
      // Refusals are logged with the next write, so a fleet of wrong clocks logs once per flush, not per screen.
      this.#timer ??= setTimeout(() => void this.flush(), this.#options.flushMs);
      return Promise.resolve(0);
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ rows, resolve, reject });
      this.#pendingEvents += rows.length;
      if (this.#pendingEvents >= this.#options.maxBatchEvents) void this.flush();
      else this.#timer ??= setTimeout(() => void this.flush(), this.#options.flushMs);
    });
  }

  /**
   * Writes everything waiting now (after a write already running), and resolves once it is
   * stored. A failed write keeps its events waiting and is retried with backoff; its callers keep
   * waiting. Resolves with the number of new events it wrote.
   */
  async flush(): Promise<number> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#writing) await this.#writing;
    this.#logRefusals();
    if (this.#pending.length === 0) return 0;
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingEvents = 0;
    let fresh = 0;
    const writing = this.#write(batch).then(
      (count) => {
        fresh = count;
        this.#failures = 0;
      },
      (error: unknown) => {
        this.#failures++;
        // Back to the front, in order: these callers still wait for their events to be stored.
        this.#pending = [...batch, ...this.#pending];
        this.#pendingEvents += batch.reduce((sum, call) => sum + call.rows.length, 0);
        const retryMs = Math.min(30_000, this.#options.flushMs * 2 ** this.#failures);
        this.#options.logger.error({ err: error, events: this.#pendingEvents, retryMs }, "play event write failed");
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => void this.flush(), retryMs);
      },
    );
    this.#writing = writing;
    try {
      await writing;
    } finally {
      this.#writing = undefined;
    }
    return fresh;
  }

  /** Gives every waiting call `error` (the process is stopping and the last write failed). */
  failPending(error: unknown): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const call of this.#pending.splice(0)) call.reject(error);
    this.#pendingEvents = 0;
  }

  async #write(batch: PendingCall[]): Promise<number> {
    const now = this.#options.clock.now();
    const day = Math.floor(now.getTime() / 86_400_000);
    if (this.#ensuredDay !== day) {
      await ensurePartitions(this.#pool, this.#options.policy, now);
      this.#ensuredDay = day;
    }
    const owner: number[] = [];
    const rows: EventRow[] = [];
    for (const [index, call] of batch.entries()) {
      for (const row of call.rows) {
        owner.push(index);
        rows.push(row);
      }
    }
    const column = <K extends keyof EventRow>(key: K) => rows.map((row) => row[key]);
    const params = [
      rows.map((_, n) => n),
      column("tenantId"),
      column("screenId"),
      column("eventKey"),
      column("startedAt"),
      column("playedMs"),
      column("outcome"),
      column("videoId"),
      column("playlistId"),
      column("ruleId"),
      now,
      retentionBounds(now, this.#options.policy).rawFrom,
      column("sha256"),
    ];
    let result: pg.QueryResult<{ n: number }>;
    const started = performance.now();
    try {
      result = await this.#pool.query<{ n: number }>(ingestSql, params);
    } catch (error) {
      // Another replica dropped or has not yet created a partition this batch needs: ensure, once more.
      if (!isMissingPartition(error)) throw error;
      await ensurePartitions(this.#pool, this.#options.policy, now);
      result = await this.#pool.query<{ n: number }>(ingestSql, params);
    }
    this.stats.writes++;
    this.stats.events += rows.length;
    this.stats.fresh += result.rows.length;
    this.stats.writeMs += performance.now() - started;
    const fresh = batch.map(() => 0);
    for (const { n } of result.rows) fresh[owner[n] as number] = (fresh[owner[n] as number] as number) + 1;
    for (const [index, call] of batch.entries()) call.resolve(fresh[index] as number);
    return result.rowCount ?? 0;
  }

  #refuse(screenId: string, reason: "noStart" | "noId" | "outOfRange"): void {
    this.#refusals.count++;
    this.#refusals[reason]++;
    if (this.#refusals.screens.size < 5) this.#refusals.screens.add(screenId);
  }

  #logRefusals(): void {
    const refusals = this.#refusals;
    if (refusals.count === 0) return;
    this.#refusals = { count: 0, noStart: 0, noId: 0, outOfRange: 0, screens: new Set() };
    this.#options.logger.warn(
      {
        refused: refusals.count,
        noStartedAt: refusals.noStart,
        noEventId: refusals.noId,
        outsideKeptRange: refusals.outOfRange,
        someScreens: [...refusals.screens],
      },
      "play events refused: no started_at or event_id, or started outside the kept months (device clock?)",
    );
  }
}
