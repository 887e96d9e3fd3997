/**
 * The report's port and the validated queries it answers. The PostgreSQL store
 * (./pg-report-store.ts) is the one implementation: the reports are SQL aggregations over the
 * rollups, so a fake would test nothing of them; tests run on a real PostgreSQL.
 */

/** What a play report's rows are per. */
export type Dimension = "asset" | "screen" | "group" | "playlist";

/** Whose local days the buckets are: one named zone (the tenant's), or each screen's own. */
export type ReportZone = { kind: "fixed"; name: string } | { kind: "screen" };

/** A validated time range: whole UTC hours, start < end. */
export interface ReportWindow {
  start: Date;
  end: Date;
  zone: ReportZone;
}

/** A validated play report query (ids are lower-case UUIDs of the caller's tenant, deduplicated). */
export interface PlayQuery {
  tenantId: string;
  window: ReportWindow;
  granularity: "hour" | "day";
  dimension: Dimension;
  screenIds: string[];
  groupIds: string[];
  videoIds: string[];
  playlistIds: string[];
}

/** A validated uptime report query. */
export interface UptimeQuery {
  tenantId: string;
  window: ReportWindow;
  screenIds: string[];
  groupIds: string[];
}

/**
 * A position in a report's order (row id, then bucket label): the page starts after it. `label`
 * undefined means after every bucket of `key`.
 */
export interface ReportCursor {
  key: string;
  label: string | undefined;
}

/** Which page to read. */
export interface PageRequest {
  /** At most this many rows (1..10,000). */
  size: number;
  after: ReportCursor | undefined;
}

/** One page; `next` is undefined on the last. */
export interface Page<Row> {
  rows: Row[];
  next: ReportCursor | undefined;
}

/** One bucket of one id of a play report. */
export interface PlayRow {
  /** Video, screen, group or playlist id; "" for none (no group, or an id the screen did not report). */
  id: string;
  /** The screen's or group's name (the store fills these); videos and playlists are named by the service. */
  name: string;
  /** Local date of the bucket, YYYY-MM-DD. */
  date: string;
  /** The order within an id: the date, or the UTC hour for hourly buckets. */
  label: string;
  /** Unset for a daily bucket adding up screens in different zones. */
  bucketStart: Date | undefined;
  bucketEnd: Date | undefined;
  timeZone: string;
  plays: number;
  completed: number;
  playedMs: number;
}

/** One screen's local day of an uptime report. */
export interface UptimeRow {
  screenId: string;
  screenName: string;
  date: string;
  dayStart: Date;
  dayEnd: Date;
  timeZone: string;
  playingMs: number;
  displayOffMs: number;
  idleMs: number;
  offlineMs: number;
  untrackedMs: number;
}

/** A zone the database does not know (the request's, or a screen's): the caller must change it. */
export class UnknownZoneError extends Error {
  override name = "UnknownZoneError";
}

/** The reads a report needs. */
export interface ReportStore {
  /** Of `ids`, those that are not screens of the tenant (in the order given). */
  missingScreens(tenantId: string, ids: readonly string[]): Promise<string[]>;
  /** Of `ids`, those that are not groups of the tenant (in the order given). */
  missingGroups(tenantId: string, ids: readonly string[]): Promise<string[]>;
  /** Of `ids`, those of no video or playlist the tenant's screens ever played (in the rollups kept). */
  neverPlayed(tenantId: string, kind: "video" | "playlist", ids: readonly string[]): Promise<string[]>;
  /** One page of a play report, ordered by id then bucket. Throws {@link UnknownZoneError}. */
  playPage(query: PlayQuery, page: PageRequest): Promise<Page<PlayRow>>;
  /** One page of an uptime report, ordered by screen id then day, as of `now`. Throws {@link UnknownZoneError}. */
  uptimePage(query: UptimeQuery, page: PageRequest, now: Date): Promise<Page<UptimeRow>>;
}
