import { createHash } from "node:crypto";
import { isValidTimeZone } from "@avtech/proto";
import {
  Dimension,
  Granularity,
  type PlayReportQuery,
  type ReportWindow as ReportWindowMessage,
  type UptimeReportQuery,
} from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { isUuid } from "../../platform/validation.ts";
import type { PlayQuery, ReportCursor, ReportWindow, UptimeQuery } from "./ports.ts";

/*
 * Request validation: the proto messages become the store's queries, or INVALID_ARGUMENT with a
 * message that says what to change. No I/O here; whether screen and group ids are the caller's
 * is checked by the service against the store.
 */

/** Limits of a report query. */
export interface QueryLimits {
  /** Longest range (`reports.maxRangeDays`). */
  maxRangeDays: number;
}

/** Hourly buckets over at most this many days (744 buckets per id). */
export const maxHourlyRangeDays = 31;
/** Ids per filter list. */
export const maxFilterIds = 1000;
/** Rows per page: the default and the most a page holds. */
export const defaultPageSize = 1000;
export const maxPageSize = 10_000;

const hourMs = 3_600_000;
const dayMs = 86_400_000;
// IANA names (Europe/Madrid, UTC, Etc/GMT+3), not offsets: PostgreSQL reads "+03:00" as POSIX, west of Greenwich.
const zoneName = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** The next whole UTC hour at or after `at`. */
function hourCeil(at: Date): Date {
  return new Date(Math.ceil(at.getTime() / hourMs) * hourMs);
}

/** The range and zone, validated; start and end rounded up to whole hours. */
export function windowFrom(
  message: ReportWindowMessage | undefined,
  limits: QueryLimits,
  granularity: "hour" | "day",
): ReportWindow {
  if (!message?.start || !message.end) {
    throw invalid("set window.start and window.end: the report covers the hours from start up to end");
  }
  const start = hourCeil(timestampDate(message.start));
  const end = hourCeil(timestampDate(message.end));
  if (end.getTime() <= start.getTime()) {
    throw invalid(
      `window.end (${timestampDate(message.end).toISOString()}) must be after window.start ` +
        `(${timestampDate(message.start).toISOString()}) by at least a part of an hour: swap them or widen the range`,
    );
  }
  const days = (end.getTime() - start.getTime()) / dayMs;
  if (days > limits.maxRangeDays) {
    throw invalid(
      `the range is ${Math.ceil(days)} days; one report covers at most ${limits.maxRangeDays} days ` +
        "(reports.maxRangeDays): split it into several reports",
    );
  }
  if (granularity === "hour" && days > maxHourlyRangeDays) {
    throw invalid(
      `hourly buckets cover at most ${maxHourlyRangeDays} days and the range is ${Math.ceil(days)}: ` +
        "ask for daily buckets or a shorter range",
    );
  }
  if (message.screenTimeZone) {
    if (message.timeZone !== "") {
      throw invalid("set window.time_zone or window.screen_time_zone, not both");
    }
    if (granularity === "hour") {
      throw invalid(
        "window.screen_time_zone makes each screen's local days; hours are the same in every zone: " +
          "ask for daily buckets, or give window.time_zone to date the hours",
      );
    }
    return { start, end, zone: { kind: "screen" } };
  }
  const name = message.timeZone === "" ? "UTC" : message.timeZone;
  if (!zoneName.test(name) || !isValidTimeZone(name)) {
    throw invalid(`window.time_zone "${name}" is not an IANA time zone name: use one such as Europe/Madrid or UTC`);
  }
  return { start, end, zone: { kind: "fixed", name } };
}

/**
 * The ids of a filter, lower-cased and deduplicated; at most {@link maxFilterIds}. Whether they are
 * the tenant's is checked by the service before anything else (NOT_FOUND naming them).
 */
export function idList(ids: readonly string[], field: string): string[] {
  if (ids.length > maxFilterIds) {
    throw invalid(`${field} holds ${ids.length} ids; at most ${maxFilterIds}: split the report`);
  }
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}

const granularities: Record<number, "hour" | "day"> = {
  [Granularity.HOUR]: "hour",
  [Granularity.DAY]: "day",
};
const dimensions: Record<number, PlayQuery["dimension"]> = {
  [Dimension.ASSET]: "asset",
  [Dimension.SCREEN]: "screen",
  [Dimension.GROUP]: "group",
  [Dimension.PLAYLIST]: "playlist",
};

/**
 * A play report query of the caller's tenant. Ids are kept as given (lower-cased) for the service
 * to check against the tenant: a malformed one is as unknown as a foreign one.
 */
export function playQueryFrom(tenantId: string, query: PlayReportQuery | undefined, limits: QueryLimits): PlayQuery {
  const granularity = granularities[query?.granularity ?? Granularity.UNSPECIFIED];
  if (!query || !granularity) throw invalid("set query.granularity: GRANULARITY_HOUR or GRANULARITY_DAY");
  const dimension = dimensions[query.dimension];
  if (!dimension) {
    throw invalid("set query.dimension: DIMENSION_ASSET, DIMENSION_SCREEN, DIMENSION_GROUP or DIMENSION_PLAYLIST");
  }
  return {
    tenantId,
    window: windowFrom(query.window, limits, granularity),
    granularity,
    dimension,
    screenIds: idList(query.screenIds, "query.screen_ids"),
    groupIds: idList(query.groupIds, "query.group_ids"),
    videoIds: idList(query.videoIds, "query.video_ids"),
    playlistIds: idList(query.playlistIds, "query.playlist_ids"),
  };
}

/** An uptime report query of the caller's tenant. */
export function uptimeQueryFrom(
  tenantId: string,
  query: UptimeReportQuery | undefined,
  limits: QueryLimits,
): UptimeQuery {
  return {
    tenantId,
    window: windowFrom(query?.window, limits, "day"),
    screenIds: idList(query?.screenIds ?? [], "query.screen_ids"),
    groupIds: idList(query?.groupIds ?? [], "query.group_ids"),
  };
}

/**
 * A short fingerprint of a validated query: page tokens carry it, so a token is only accepted
 * with the query it was made for.
 */
export function queryFingerprint(query: PlayQuery | UptimeQuery): string {
  const canonical = JSON.stringify(query, (_key, value: unknown) =>
    Array.isArray(value) ? [...value].sort() : value instanceof Date ? value.toISOString() : value,
  );
  return createHash("sha256").update(canonical).digest("base64url").slice(0, 16);
}

interface TokenBody {
  q: string;
  k: string;
  l?: string;
}

/** The page token for `cursor` of the query with `fingerprint` (base64url JSON; opaque to callers). */
export function pageToken(cursor: ReportCursor | undefined, fingerprint: string): string {
  if (!cursor) return "";
  const body: TokenBody = { q: fingerprint, k: cursor.key, ...(cursor.label === undefined ? {} : { l: cursor.label }) };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/** Page size (clamped to 1..10,000, default 1,000) and position from a request. */
export function pageFrom(
  pageSize: number,
  token: string,
  fingerprint: string,
): { size: number; after: ReportCursor | undefined } {
  const size = Math.min(Math.max(pageSize || defaultPageSize, 1), maxPageSize);
  if (token === "") return { size, after: undefined };
  let body: Partial<TokenBody>;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Partial<TokenBody>;
  } catch {
    body = {};
  }
  if (typeof body.k !== "string" || !isUuid(body.k) || (body.l !== undefined && typeof body.l !== "string")) {
    throw invalid("page_token is not one this report gave out: start again without it");
  }
  if (body.q !== fingerprint) {
    throw invalid("page_token belongs to a different query: send the same query as the first page, or no token");
  }
  return { size, after: { key: body.k, label: body.l } };
}
