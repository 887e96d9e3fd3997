import type pg from "pg";
import { isUuid } from "../../platform/validation.ts";
import {
  type Page,
  type PageRequest,
  type PlayQuery,
  type PlayRow,
  type ReportCursor,
  type ReportStore,
  UnknownZoneError,
  type UptimeQuery,
  type UptimeRow,
} from "./ports.ts";

const nilUuid = "00000000-0000-0000-0000-000000000000";
const hourMs = 3_600_000;
const dayMs = 86_400_000;

/** Collects positional parameters while a statement is built. */
class Params {
  readonly values: unknown[] = [];
  /** `$n` for `value`. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** How many of the ids (screens) a page may list so that their rows roughly fill it. */
function idsPerPage(size: number, bucketsPerId: number): number {
  return Math.min(1000, Math.max(1, Math.ceil((size + 1) / Math.max(1, bucketsPerId))));
}

/** Buckets one id has at most in the range. */
function bucketCount(start: Date, end: Date, unit: "hour" | "day"): number {
  const span = end.getTime() - start.getTime();
  return unit === "hour" ? Math.ceil(span / hourMs) : Math.ceil(span / dayMs) + 1;
}

/** The cursor condition on `key`/`label` columns (`label` compared byte-wise, as the order is). */
function afterCursor(params: Params, cursor: ReportCursor | undefined, key: string, label: string): string {
  if (!cursor) return "true";
  if (cursor.label === undefined) return `${key} > ${params.add(cursor.key)}::uuid`;
  return `(${key}, ${label} COLLATE "C") > (${params.add(cursor.key)}::uuid, ${params.add(cursor.label)}::text)`;
}

/** Runs `work`, turning PostgreSQL's "time zone ... not recognized" into {@link UnknownZoneError}. */
async function zoneChecked<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const { code, message } = (error ?? {}) as { code?: string; message?: string };
    if (code === "22023" && message?.includes("time zone")) throw new UnknownZoneError(message, { cause: error });
    throw error;
  }
}

interface PlayResultRow {
  key: string;
  label: string;
  date: string;
  bucket_start: Date | null;
  bucket_end: Date | null;
  time_zone: string;
  plays: string;
  completed: string;
  played_ms: string;
  name: string | null;
}

interface UptimeResultRow {
  id: string;
  name: string;
  zone: string;
  date: string;
  day_start: Date;
  day_end: Date;
  playing_ms: string;
  display_off_ms: string;
  idle_ms: string;
  tracked_ms: string;
}

/**
 * ReportStore on the rollups (Migration20261206200000_play_reports), plain SQL on the fleet's pool.
 *
 * A play report reads the smallest rollup that has what it groups and filters by:
 * `play_tenant_hourly` (per tenant × hour × zone × video × playlist: a row per clip an hour for a
 * whole fleet); when it needs the group, `play_group_hourly` (per group and hour) unless it also
 * needs the clip, then `play_group_clip_hourly`; when it needs the screen, `play_screen_hourly`
 * (per screen and hour) unless it also needs the clip, then `play_hourly` (per screen × video ×
 * playlist). The two
 * per-screen tables are always read through an explicit list of screens (the ones asked for, or
 * the next page of the tenant's screens by id), so a query walks the primary key (screen_id, hour,
 * …) of those screens only. Buckets
 * are made at query time from the UTC hours: `date_trunc` in the report's zone, so a local day has
 * 23 or 25 hours across a daylight-saving change. Rows are ordered by id then label, and paged by
 * keyset on that pair.
 */
export class PgReportStore implements ReportStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async missingScreens(tenantId: string, ids: readonly string[]): Promise<string[]> {
    return this.#missing("screens", tenantId, ids);
  }

  async missingGroups(tenantId: string, ids: readonly string[]): Promise<string[]> {
    return this.#missing("groups", tenantId, ids);
  }

  async neverPlayed(tenantId: string, kind: "video" | "playlist", ids: readonly string[]): Promise<string[]> {
    const valid = ids.filter(isUuid).map((id) => id.toLowerCase());
    const found = new Set<string>();
    if (valid.length > 0 && isUuid(tenantId)) {
      // Deleted videos and playlists only; a walk of the tenant's per-clip rollup (a row per clip and hour).
      const { rows } = await this.#pool.query<{ id: string }>(
        `SELECT DISTINCT ${kind}_id AS id FROM play_tenant_hourly WHERE tenant_id = $1 AND ${kind}_id = ANY($2::uuid[])`,
        [tenantId, valid],
      );
      for (const row of rows) found.add(row.id);
    }
    return ids.filter((id) => !found.has(id.toLowerCase()));
  }

  async #missing(table: "screens" | "groups", tenantId: string, ids: readonly string[]): Promise<string[]> {
    const valid = ids.filter(isUuid).map((id) => id.toLowerCase());
    const found = new Set<string>();
    if (valid.length > 0 && isUuid(tenantId)) {
      const { rows } = await this.#pool.query<{ id: string }>(
        `SELECT id FROM ${table} WHERE tenant_id = $1 AND id = ANY($2::uuid[])`,
        [tenantId, valid],
      );
      for (const row of rows) found.add(row.id);
    }
    return ids.filter((id) => !found.has(id.toLowerCase()));
  }

  async playPage(query: PlayQuery, page: PageRequest): Promise<Page<PlayRow>> {
    const { window } = query;
    const detail = query.dimension === "screen" || query.screenIds.length > 0;
    let screens: string[] | undefined;
    let moreScreens = false;
    if (detail) {
      if (query.screenIds.length > 0) {
        screens = query.screenIds;
      } else {
        const limit = idsPerPage(page.size, bucketCount(window.start, window.end, query.granularity));
        // A cursor inside a screen's rows starts the list at that screen; one after all of them, past it.
        const from = page.after?.label === undefined ? "id > $2::uuid" : "id >= $2::uuid";
        // With a group filter, the group's screens now (each row still counts only the plays it made
        // while in the group): listing every screen of the tenant would make pages of one group mostly empty.
        const inGroups = query.groupIds.length > 0 ? "AND group_id = ANY($4::uuid[])" : "";
        const { rows } = await this.#pool.query<{ id: string }>(
          `SELECT id FROM screens WHERE tenant_id = $1 AND ($2::uuid IS NULL OR ${from}) ${inGroups} ORDER BY id LIMIT $3`,
          [query.tenantId, page.after?.key ?? null, limit, ...(inGroups ? [query.groupIds] : [])],
        );
        screens = rows.map((row) => row.id);
        moreScreens = rows.length === limit;
      }
      if (screens.length === 0) return { rows: [], next: undefined };
    }

    const p = new Params();
    const tenant = p.add(query.tenantId);
    const keyColumn = { asset: "video_id", screen: "screen_id", group: "group_id", playlist: "playlist_id" }[
      query.dimension
    ];
    const byClip = query.videoIds.length > 0 || query.playlistIds.length > 0;
    const byGroup = query.dimension === "group" || query.groupIds.length > 0;
    const needsClip = byClip || query.dimension === "asset" || query.dimension === "playlist";
    const table = detail
      ? needsClip
        ? "play_hourly"
        : "play_screen_hourly"
      : byGroup
        ? needsClip
          ? "play_group_clip_hourly"
          : "play_group_hourly"
        : "play_tenant_hourly";
    const filters = [`tenant_id = ${tenant}`, `hour >= ${p.add(window.start)}`, `hour < ${p.add(window.end)}`];
    if (screens) filters.push(`screen_id = ANY(${p.add(screens)}::uuid[])`);
    if (query.groupIds.length > 0) filters.push(`group_id = ANY(${p.add(query.groupIds)}::uuid[])`);
    if (query.videoIds.length > 0) filters.push(`video_id = ANY(${p.add(query.videoIds)}::uuid[])`);
    if (query.playlistIds.length > 0) filters.push(`playlist_id = ANY(${p.add(query.playlistIds)}::uuid[])`);
    if (page.after) filters.push(`${keyColumn} >= ${p.add(page.after.key)}::uuid`);

    const zone = window.zone.kind === "fixed" ? p.add(window.zone.name) : undefined;
    let bucket: string;
    let label: string;
    let date: string;
    let start: string;
    let end: string;
    let zoneOut: string;
    if (query.granularity === "hour") {
      bucket = "hour";
      label = `to_char(b AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24"Z"')`;
      date = zone ? `to_char(b AT TIME ZONE ${zone}, 'YYYY-MM-DD')` : label;
      start = "b";
      end = "b + interval '1 hour'";
      zoneOut = zone ?? "''";
    } else if (zone) {
      bucket = `(hour AT TIME ZONE ${zone})::date`;
      label = `to_char(b, 'YYYY-MM-DD')`;
      date = label;
      start = `b::timestamp AT TIME ZONE ${zone}`;
      end = `(b + 1)::timestamp AT TIME ZONE ${zone}`;
      zoneOut = zone;
    } else {
      // Each screen's own days: a bucket has one start only when its plays all come from one zone.
      bucket = "(hour AT TIME ZONE time_zone)::date";
      label = `to_char(b, 'YYYY-MM-DD')`;
      date = label;
      start = "CASE WHEN z_min = z_max THEN b::timestamp AT TIME ZONE z_min END";
      end = "CASE WHEN z_min = z_max THEN (b + 1)::timestamp AT TIME ZONE z_min END";
      zoneOut = "CASE WHEN z_min = z_max THEN z_min ELSE '' END";
    }
    const name =
      query.dimension === "screen"
        ? { column: "s.name", join: "LEFT JOIN screens s ON s.id = l.key" }
        : query.dimension === "group"
          ? { column: "g.name", join: `LEFT JOIN groups g ON g.id = l.key AND g.tenant_id = ${tenant}` }
          : { column: "NULL::text", join: "" };
    const cursor = afterCursor(p, page.after, "l.key", "l.label");
    const limit = p.add(page.size + 1);
    const sql = `
      WITH agg AS (
        SELECT key, b, sum(plays)::bigint AS plays, sum(completed)::bigint AS completed,
               sum(played_ms)::bigint AS played_ms, min(time_zone) AS z_min, max(time_zone) AS z_max
          FROM (SELECT ${keyColumn} AS key, ${bucket} AS b, time_zone, plays, completed, played_ms
                  FROM ${table}
                 WHERE ${filters.join(" AND ")}) x
         GROUP BY key, b
      ), l AS (SELECT agg.*, ${label} AS label FROM agg)
      SELECT l.key, l.label, ${date} AS date, ${start} AS bucket_start, ${end} AS bucket_end,
             ${zoneOut} AS time_zone, l.plays, l.completed, l.played_ms, ${name.column} AS name
        FROM l ${name.join}
       WHERE ${cursor}
       ORDER BY l.key, l.label COLLATE "C"
       LIMIT ${limit}`;
    const { rows } = await zoneChecked(() => this.#pool.query<PlayResultRow>(sql, p.values));
    const more = rows.length > page.size;
    const out = rows.slice(0, page.size).map(
      (row): PlayRow => ({
        id: row.key === nilUuid ? "" : row.key,
        name: row.name ?? "",
        date: row.date,
        label: row.label,
        bucketStart: row.bucket_start ?? undefined,
        bucketEnd: row.bucket_end ?? undefined,
        timeZone: row.time_zone,
        plays: Number(row.plays),
        completed: Number(row.completed),
        playedMs: Number(row.played_ms),
      }),
    );
    const last = out.at(-1);
    if (more && last) return { rows: out, next: { key: rowKey(last.id), label: last.label } };
    if (moreScreens && screens) return { rows: out, next: { key: screens.at(-1) as string, label: undefined } };
    return { rows: out, next: undefined };
  }

  async uptimePage(query: UptimeQuery, page: PageRequest, now: Date): Promise<Page<UptimeRow>> {
    const { window } = query;
    const listing = new Params();
    const screenFilters = [`tenant_id = ${listing.add(query.tenantId)}`];
    if (query.screenIds.length > 0) screenFilters.push(`id = ANY(${listing.add(query.screenIds)}::uuid[])`);
    if (query.groupIds.length > 0) screenFilters.push(`group_id = ANY(${listing.add(query.groupIds)}::uuid[])`);
    if (page.after) {
      screenFilters.push(`id ${page.after.label === undefined ? ">" : ">="} ${listing.add(page.after.key)}::uuid`);
    }
    const limit = idsPerPage(page.size, bucketCount(window.start, window.end, "day"));
    const listed = await this.#pool.query<{ id: string }>(
      `SELECT id FROM screens WHERE ${screenFilters.join(" AND ")} ORDER BY id LIMIT ${listing.add(limit)}`,
      listing.values,
    );
    const screens = listed.rows.map((row) => row.id);
    if (screens.length === 0) return { rows: [], next: undefined };

    const p = new Params();
    const zone = window.zone.kind === "fixed" ? `${p.add(window.zone.name)}::text` : "s.timezone";
    const start = `${p.add(window.start)}::timestamptz`;
    const end = `${p.add(window.end)}::timestamptz`;
    const listedScreens = p.add(screens);
    const sql = `
      WITH scr AS (
        SELECT s.id, s.name, s.created_at, ${zone} AS zone FROM screens s WHERE s.id = ANY(${listedScreens}::uuid[])
      ), days AS (
        SELECT scr.*, d::date AS day,
               greatest(d::date::timestamp AT TIME ZONE scr.zone, ${start}) AS day_start,
               least((d::date + 1)::timestamp AT TIME ZONE scr.zone, ${end}) AS day_end
          FROM scr, generate_series((${start} AT TIME ZONE scr.zone)::date::timestamp,
                                    ((${end} - interval '1 microsecond') AT TIME ZONE scr.zone)::date::timestamp,
                                    interval '1 day') AS d
      ), online AS (
        -- Each UTC hour of the range belongs to the local day its start falls on.
        SELECT u.screen_id, (u.hour AT TIME ZONE scr.zone)::date AS day, sum(u.playing_ms)::bigint AS playing_ms,
               sum(u.display_off_ms)::bigint AS display_off_ms, sum(u.idle_ms)::bigint AS idle_ms
          FROM screen_uptime_hourly u JOIN scr ON scr.id = u.screen_id
         WHERE u.screen_id = ANY(${listedScreens}::uuid[]) AND u.hour >= ${start} AND u.hour < ${end}
         GROUP BY 1, 2
      ), t AS (
        SELECT days.*,
               greatest(day_start, created_at, (SELECT coalesce(min(started_at), '-infinity') FROM uptime_recording))
                 AS tracked_from,
               least(day_end, ${p.add(now)}::timestamptz) AS tracked_to
          FROM days
      )
      SELECT t.id, t.name, t.zone, to_char(t.day, 'YYYY-MM-DD') AS date, t.day_start, t.day_end,
             coalesce(o.playing_ms, 0) AS playing_ms, coalesce(o.display_off_ms, 0) AS display_off_ms,
             coalesce(o.idle_ms, 0) AS idle_ms,
             greatest(extract(epoch FROM (t.tracked_to - t.tracked_from)) * 1000, 0)::bigint AS tracked_ms
        FROM t LEFT JOIN online o ON o.screen_id = t.id AND o.day = t.day
       WHERE ${afterCursor(p, page.after, "t.id", "to_char(t.day, 'YYYY-MM-DD')")}
       ORDER BY t.id, t.day
       LIMIT ${p.add(page.size + 1)}`;
    const { rows } = await zoneChecked(() => this.#pool.query<UptimeResultRow>(sql, p.values));
    const more = rows.length > page.size;
    const out = rows.slice(0, page.size).map((row): UptimeRow => {
      const playingMs = Number(row.playing_ms);
      const displayOffMs = Number(row.display_off_ms);
      const idleMs = Number(row.idle_ms);
      const trackedMs = Number(row.tracked_ms);
      const spanMs = row.day_end.getTime() - row.day_start.getTime();
      return {
        screenId: row.id,
        screenName: row.name,
        date: row.date,
        dayStart: row.day_start,
        dayEnd: row.day_end,
        timeZone: row.zone,
        playingMs,
        displayOffMs,
        idleMs,
        offlineMs: Math.max(0, trackedMs - playingMs - displayOffMs - idleMs),
        untrackedMs: Math.max(0, spanMs - trackedMs),
      };
    });
    const last = out.at(-1);
    if (more && last) return { rows: out, next: { key: last.screenId, label: last.date } };
    if (screens.length === limit) return { rows: out, next: { key: screens.at(-1) as string, label: undefined } };
    return { rows: out, next: undefined };
  }
}

/** The row id as a cursor key ("" is the nil UUID). */
function rowKey(id: string): string {
  return id === "" ? nilUuid : id;
}
