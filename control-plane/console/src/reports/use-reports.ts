import {
  Dimension,
  Granularity,
  type PlayReportRow,
  ReportService,
  type UptimeReportRow,
} from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useApi } from "../api/api-context.tsx";
import type { CsvQuery } from "./csv.ts";

/** Rows per request: the most the server gives on one page. */
const pageSize = 10_000;
/**
 * The charts read at most this many pages (100,000 rows: 10,000 screens for 10 days of uptime).
 * A tenant beyond that still gets the whole report from the CSV; the page says the charts are cut.
 */
const maxPages = 10;

/** Rows of a whole report (or its first {@link maxPages} pages). */
export interface ReportRows<Row> {
  rows: Row[];
  /** True when there were more pages than the charts read. */
  truncated: boolean;
}

async function allPages<Row>(
  page: (pageToken: string) => Promise<{ rows: Row[]; nextPageToken: string }>,
): Promise<ReportRows<Row>> {
  const rows: Row[] = [];
  let token = "";
  for (let n = 0; n < maxPages; n++) {
    const answer = await page(token);
    rows.push(...answer.rows);
    token = answer.nextPageToken;
    if (token === "") return { rows, truncated: false };
  }
  return { rows, truncated: true };
}

/**
 * The play report per asset (for the timeline and the top assets) and the uptime report per
 * screen and day over the page's range, each read page by page through ReportService.
 */
export function useReports(query: CsvQuery) {
  const { transport } = useApi();
  const client = useMemo(() => createClient(ReportService, transport), [transport]);
  const reportWindow = {
    start: timestampFromDate(query.start),
    end: timestampFromDate(query.end),
    timeZone: query.zone,
  };
  const key = [query.start.toISOString(), query.end.toISOString(), query.zone];
  const plays = useQuery({
    queryKey: ["reports", "plays", ...key, query.bucketing],
    queryFn: ({ signal }) =>
      allPages<PlayReportRow>((pageToken) =>
        client.getPlayReport(
          {
            query: {
              window: reportWindow,
              granularity: query.bucketing === "day" ? Granularity.DAY : Granularity.HOUR,
              dimension: Dimension.ASSET,
            },
            pageSize,
            pageToken,
          },
          { signal },
        ),
      ),
  });
  const uptime = useQuery({
    queryKey: ["reports", "uptime", ...key],
    queryFn: ({ signal }) =>
      allPages<UptimeReportRow>((pageToken) =>
        client.getUptimeReport({ query: { window: reportWindow }, pageSize, pageToken }, { signal }),
      ),
  });
  return { plays, uptime };
}
