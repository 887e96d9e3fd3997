import {
  type ExportPlayReportResponse,
  ExportPlayReportResponseSchema,
  type ExportUptimeReportResponse,
  ExportUptimeReportResponseSchema,
  GetPlayReportResponseSchema,
  GetUptimeReportResponseSchema,
  type PlayReportQuery,
  type ReportService,
  type UptimeReportQuery,
} from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { ContentNames } from "../../core/schedule/index.ts";
import type { Clock } from "../../platform/clock.ts";
import { type PrincipalOf, readers, requireRole } from "../fleet/access.ts";
import { playCsvHeader, playCsvRows, uptimeCsvHeader, uptimeCsvRows } from "./csv.ts";
import {
  type Page,
  type PageRequest,
  type PlayQuery,
  type PlayRow,
  type ReportStore,
  UnknownZoneError,
  type UptimeQuery,
  type UptimeRow,
} from "./ports.ts";
import {
  idList,
  pageFrom,
  pageToken,
  playQueryFrom,
  type QueryLimits,
  queryFingerprint,
  uptimeQueryFrom,
} from "./query.ts";

/** Rows read per page while a CSV export streams. */
export const exportPageSize = 5000;

/** What {@link createReportReader} and {@link createReportService} use. */
export interface ReportDeps {
  store: ReportStore;
  /** Names of videos and playlists (the core's: `createDbContentNames`). */
  names: ContentNames;
  clock: Clock;
  limits: QueryLimits;
}

/**
 * The reports, behind both doors (the RPCs and the plain HTTP CSV routes): validated queries of
 * one tenant, pages with names, whole reports as CSV text page by page.
 */
export interface ReportReader {
  /** The validated query; INVALID_ARGUMENT for a bad one, NOT_FOUND naming screen or group ids not in the tenant. */
  playQuery(tenantId: string, message: PlayReportQuery | undefined): Promise<PlayQuery>;
  uptimeQuery(tenantId: string, message: UptimeReportQuery | undefined): Promise<UptimeQuery>;
  playPage(query: PlayQuery, page: PageRequest): Promise<Page<PlayRow>>;
  uptimePage(query: UptimeQuery, page: PageRequest): Promise<Page<UptimeRow>>;
  /** The whole report as CSV: the header, then one chunk per page as it is read. Stops when `signal` aborts. */
  playCsv(query: PlayQuery, signal?: AbortSignal): AsyncGenerator<string>;
  uptimeCsv(query: UptimeQuery, signal?: AbortSignal): AsyncGenerator<string>;
}

async function zoneChecked<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof UnknownZoneError)) throw error;
    throw new ConnectError(
      "a time zone of this report is unknown to the database: pick another window.time_zone, or fix the screen's " +
        "zone (UpdateScreen) when using window.screen_time_zone",
      Code.InvalidArgument,
      undefined,
      undefined,
      error,
    );
  }
}

/** The {@link ReportReader} over a store. */
export function createReportReader(deps: ReportDeps): ReportReader {
  const notFound = (kind: string, ids: string[], field: string) => {
    if (ids.length === 0) return;
    throw new ConnectError(
      `${kind}${ids.length === 1 ? "" : "s"} ${ids.join(", ")} ${ids.length === 1 ? "is" : "are"} not in your tenant (${field})`,
      Code.NotFound,
    );
  };
  /**
   * Every id of a query is the tenant's, checked before the rest of the query (so a foreign id is
   * NOT_FOUND whatever else is wrong): screens and groups that exist now, videos and playlists that
   * exist now or that the tenant's screens played (a deleted clip's plays are still reported).
   */
  const checkIds = async (
    tenantId: string,
    ids: { screens: string[]; groups: string[]; videos?: string[]; playlists?: string[] },
  ) => {
    const screens = idList(ids.screens, "query.screen_ids");
    const groups = idList(ids.groups, "query.group_ids");
    const videos = idList(ids.videos ?? [], "query.video_ids");
    const playlists = idList(ids.playlists ?? [], "query.playlist_ids");
    notFound("screen", await deps.store.missingScreens(tenantId, screens), "query.screen_ids");
    notFound("group", await deps.store.missingGroups(tenantId, groups), "query.group_ids");
    const videoNames = await deps.names.videoNames(tenantId, videos);
    const goneVideos = videos.filter((id) => !videoNames.has(id));
    notFound("video", await deps.store.neverPlayed(tenantId, "video", goneVideos), "query.video_ids");
    const playlistNames = await deps.names.playlistNames(tenantId, playlists);
    const gonePlaylists = playlists.filter((id) => !playlistNames.has(id));
    notFound("playlist", await deps.store.neverPlayed(tenantId, "playlist", gonePlaylists), "query.playlist_ids");
  };
  const named = async (query: PlayQuery, rows: PlayRow[]) => {
    if (query.dimension !== "asset" && query.dimension !== "playlist") return rows;
    const ids = [...new Set(rows.map((row) => row.id).filter((id) => id !== ""))];
    const names =
      query.dimension === "asset"
        ? await deps.names.videoNames(query.tenantId, ids)
        : await deps.names.playlistNames(query.tenantId, ids);
    return rows.map((row) => ({ ...row, name: names.get(row.id) ?? "" }));
  };
  const reader: ReportReader = {
    async playQuery(tenantId, message) {
      await checkIds(tenantId, {
        screens: message?.screenIds ?? [],
        groups: message?.groupIds ?? [],
        videos: message?.videoIds ?? [],
        playlists: message?.playlistIds ?? [],
      });
      return playQueryFrom(tenantId, message, deps.limits);
    },
    async uptimeQuery(tenantId, message) {
      await checkIds(tenantId, { screens: message?.screenIds ?? [], groups: message?.groupIds ?? [] });
      return uptimeQueryFrom(tenantId, message, deps.limits);
    },
    async playPage(query, page) {
      const result = await zoneChecked(() => deps.store.playPage(query, page));
      return { rows: await named(query, result.rows), next: result.next };
    },
    uptimePage: (query, page) => zoneChecked(() => deps.store.uptimePage(query, page, deps.clock.now())),
    async *playCsv(query, signal) {
      yield playCsvHeader;
      let page: PageRequest = { size: exportPageSize, after: undefined };
      for (;;) {
        signal?.throwIfAborted();
        const { rows, next } = await reader.playPage(query, page);
        if (rows.length > 0) yield playCsvRows(rows);
        if (!next) return;
        page = { size: exportPageSize, after: next };
      }
    },
    async *uptimeCsv(query, signal) {
      yield uptimeCsvHeader;
      let page: PageRequest = { size: exportPageSize, after: undefined };
      for (;;) {
        signal?.throwIfAborted();
        const { rows, next } = await reader.uptimePage(query, page);
        if (rows.length > 0) yield uptimeCsvRows(rows);
        if (!next) return;
        page = { size: exportPageSize, after: next };
      }
    },
  };
  return reader;
}

/** What {@link createReportService} uses. */
export interface ReportServiceDeps {
  reader: ReportReader;
  principalOf: PrincipalOf;
}

const encoder = new TextEncoder();

/** ReportService: every RPC open to every role of the caller's tenant. */
export function createReportService(deps: ReportServiceDeps): ServiceImpl<typeof ReportService> {
  const { reader, principalOf } = deps;
  return {
    async getPlayReport(request, context) {
      const { tenantId } = requireRole(principalOf, context, readers);
      const query = await reader.playQuery(tenantId, request.query);
      const fingerprint = queryFingerprint(query);
      const page = await reader.playPage(query, pageFrom(request.pageSize, request.pageToken, fingerprint));
      return create(GetPlayReportResponseSchema, {
        rows: page.rows.map((row) => ({
          id: row.id,
          name: row.name,
          date: row.date,
          bucketStart: row.bucketStart && timestampFromDate(row.bucketStart),
          bucketEnd: row.bucketEnd && timestampFromDate(row.bucketEnd),
          timeZone: row.timeZone,
          plays: BigInt(row.plays),
          completedPlays: BigInt(row.completed),
          secondsPlayed: row.playedMs / 1000,
        })),
        nextPageToken: pageToken(page.next, fingerprint),
        start: timestampFromDate(query.window.start),
        end: timestampFromDate(query.window.end),
      });
    },
    async *exportPlayReport(request, context): AsyncGenerator<ExportPlayReportResponse> {
      const { tenantId } = requireRole(principalOf, context, readers);
      const query = await reader.playQuery(tenantId, request.query);
      for await (const csv of reader.playCsv(query, context.signal)) {
        yield create(ExportPlayReportResponseSchema, { csv: encoder.encode(csv) });
      }
    },
    async getUptimeReport(request, context) {
      const { tenantId } = requireRole(principalOf, context, readers);
      const query = await reader.uptimeQuery(tenantId, request.query);
      const fingerprint = queryFingerprint(query);
      const page = await reader.uptimePage(query, pageFrom(request.pageSize, request.pageToken, fingerprint));
      return create(GetUptimeReportResponseSchema, {
        rows: page.rows.map((row) => ({
          screenId: row.screenId,
          screenName: row.screenName,
          date: row.date,
          dayStart: timestampFromDate(row.dayStart),
          dayEnd: timestampFromDate(row.dayEnd),
          timeZone: row.timeZone,
          playingSeconds: row.playingMs / 1000,
          displayOffSeconds: row.displayOffMs / 1000,
          idleSeconds: row.idleMs / 1000,
          offlineSeconds: row.offlineMs / 1000,
          untrackedSeconds: row.untrackedMs / 1000,
        })),
        nextPageToken: pageToken(page.next, fingerprint),
        start: timestampFromDate(query.window.start),
        end: timestampFromDate(query.window.end),
      });
    },
    async *exportUptimeReport(request, context): AsyncGenerator<ExportUptimeReportResponse> {
      const { tenantId } = requireRole(principalOf, context, readers);
      const query = await reader.uptimeQuery(tenantId, request.query);
      for await (const csv of reader.uptimeCsv(query, context.signal)) {
        yield create(ExportUptimeReportResponseSchema, { csv: encoder.encode(csv) });
      }
    },
  };
}
