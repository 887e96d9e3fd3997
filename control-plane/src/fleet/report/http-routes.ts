import { once } from "node:events";
import type { ServerResponse } from "node:http";
import {
  Dimension,
  Granularity,
  type PlayReportQuery,
  PlayReportQuerySchema,
  type ReportWindow,
  ReportWindowSchema,
  type UptimeReportQuery,
  UptimeReportQuerySchema,
} from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "pino";
import { httpRoutes } from "../../platform/auth/policy.ts";
import type { HttpAccess } from "../../platform/server/http-access.ts";
import type { AnyRequest, AnyResponse, HttpRoute } from "../../platform/server/http-routes.ts";
import type { ReportReader } from "./service.ts";

/** What the CSV routes need. */
export interface ReportRoutesDeps {
  reader: ReportReader;
  /** Authentication, role check and tenant: the RPC interceptors' steps, as ExportPlayReport/ExportUptimeReport. */
  access: HttpAccess;
  logger: Logger;
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** An RFC 3339 time from the query string. */
function timeParam(params: URLSearchParams, name: string): ReturnType<typeof timestampFromDate> | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)
    ? new Date(raw)
    : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    throw invalid(`${name} must be an RFC 3339 time with its offset, such as 2026-03-29T00:00:00+01:00`);
  }
  return timestampFromDate(at);
}

function windowParams(params: URLSearchParams): ReportWindow {
  const screenTimeZone = params.get("screen_time_zone");
  if (screenTimeZone !== null && screenTimeZone !== "true" && screenTimeZone !== "false") {
    throw invalid("screen_time_zone must be true or false");
  }
  return create(ReportWindowSchema, {
    start: timeParam(params, "start"),
    end: timeParam(params, "end"),
    timeZone: params.get("time_zone") ?? "",
    screenTimeZone: screenTimeZone === "true",
  });
}

const granularityNames: Record<string, Granularity> = { hour: Granularity.HOUR, day: Granularity.DAY };
const dimensionNames: Record<string, Dimension> = {
  asset: Dimension.ASSET,
  screen: Dimension.SCREEN,
  group: Dimension.GROUP,
  playlist: Dimension.PLAYLIST,
};

/** The play report query of `GET /v1/reports/plays.csv?…` (the names of PlayReportQuery's fields, ids repeated). */
export function playQueryParams(params: URLSearchParams): PlayReportQuery {
  const granularity = granularityNames[params.get("granularity") ?? ""];
  if (granularity === undefined) throw invalid("granularity must be hour or day");
  const dimension = dimensionNames[params.get("dimension") ?? ""];
  if (dimension === undefined) throw invalid("dimension must be asset, screen, group or playlist");
  return create(PlayReportQuerySchema, {
    window: windowParams(params),
    granularity,
    dimension,
    screenIds: params.getAll("screen_id"),
    groupIds: params.getAll("group_id"),
    videoIds: params.getAll("video_id"),
    playlistIds: params.getAll("playlist_id"),
  });
}

/** The uptime report query of `GET /v1/reports/uptime.csv?…`. */
export function uptimeQueryParams(params: URLSearchParams): UptimeReportQuery {
  return create(UptimeReportQuerySchema, {
    window: windowParams(params),
    screenIds: params.getAll("screen_id"),
    groupIds: params.getAll("group_id"),
  });
}

function sendError(res: AnyResponse, error: ConnectError): void {
  const headers: Record<string, string> = { "content-type": "application/json", "cache-control": "no-store" };
  if (error.code === Code.Unauthenticated) headers["www-authenticate"] = "Bearer";
  (res as ServerResponse).writeHead(codeToHttpStatus(error.code), headers);
  res.end(JSON.stringify(errorToJson(error, undefined)));
}

const csvPaths: Record<string, "plays" | "uptime"> = {
  "/v1/reports/plays.csv": "plays",
  "/v1/reports/uptime.csv": "uptime",
};

/**
 * `GET /v1/reports/plays.csv` and `GET /v1/reports/uptime.csv`: the exports of ExportPlayReport and
 * ExportUptimeReport for a browser or curl, run as those RPCs (bearer token, role, tenant: the
 * interceptors' steps through {@link HttpAccess}). The CSV is written page by page as the pages are
 * read, waiting for the socket to drain, and stops reading when the client goes away. A bad query
 * answers the Connect error JSON with the code's HTTP status before any CSV; a failure after the
 * first bytes ends the response without its last chunk, so clients see an incomplete transfer
 * rather than a short file that looks whole.
 */
export function createReportRoutes(deps: ReportRoutesDeps): HttpRoute {
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const kind = csvPaths[url.pathname];
    if (!kind || req.method !== "GET") return false;
    await serve(deps, req, res, kind, url.searchParams);
    return true;
  };
}

async function serve(
  deps: ReportRoutesDeps,
  req: AnyRequest,
  res: AnyResponse,
  kind: "plays" | "uptime",
  params: URLSearchParams,
): Promise<void> {
  let chunks: AsyncGenerator<string>;
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  try {
    chunks = await deps.access.run(
      req,
      kind === "plays" ? httpRoutes.playReportCsv : httpRoutes.uptimeReportCsv,
      async ({ principal }) =>
        kind === "plays"
          ? deps.reader.playCsv(await deps.reader.playQuery(principal.tenantId, playQueryParams(params)), abort.signal)
          : deps.reader.uptimeCsv(
              await deps.reader.uptimeQuery(principal.tenantId, uptimeQueryParams(params)),
              abort.signal,
            ),
    );
  } catch (error) {
    let failure = ConnectError.from(error);
    if (failure.code === Code.Internal || failure.code === Code.Unknown) {
      deps.logger.error({ err: error, report: kind }, "CSV export failed before it started");
      failure = new ConnectError("the report failed on the server; try again", failure.code);
    }
    sendError(res, failure);
    return;
  }
  const out = res as ServerResponse;
  out.writeHead(200, {
    "content-type": "text/csv; charset=utf-8",
    "content-disposition": `attachment; filename="${kind}.csv"`,
    "cache-control": "no-store",
  });
  try {
    for await (const chunk of chunks) {
      if (abort.signal.aborted) break;
      if (!out.write(chunk)) await Promise.race([once(out, "drain"), once(out, "close")]);
    }
    out.end();
  } catch (error) {
    if (!abort.signal.aborted) deps.logger.error({ err: error, report: kind }, "CSV export failed after it started");
    out.destroy();
  }
}
