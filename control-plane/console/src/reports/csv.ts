import type { Bucketing } from "./shape.ts";

/** What a CSV export covers: the page's range, buckets and zone. */
export interface CsvQuery {
  start: Date;
  end: Date;
  bucketing: Bucketing;
  zone: string;
}

/**
 * The path of a report's CSV export (`GET /v1/reports/plays.csv` or `/uptime.csv`, served by the
 * control plane as ExportPlayReport/ExportUptimeReport; fleet/report/README.md): plays per asset in
 * the page's buckets, or uptime per screen and day.
 */
export function reportCsvPath(kind: "plays" | "uptime", query: CsvQuery): string {
  const params = new URLSearchParams({
    start: query.start.toISOString(),
    end: query.end.toISOString(),
    time_zone: query.zone,
  });
  if (kind === "plays") {
    params.set("granularity", query.bucketing);
    params.set("dimension", "asset");
  }
  return `/v1/reports/${kind}.csv?${params}`;
}
