import type { PlayReportRow, UptimeReportRow } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { useEffect, useMemo, useState } from "react";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { useFleetView } from "../fleet/use-fleet.ts";
import { Select } from "../ui/select.tsx";
import { AssetBars, PlaysTimeline, UptimeBars, uptimeParts } from "./charts.tsx";
import { type CsvQuery, reportCsvPath } from "./csv.ts";
import { downloadCsv } from "./download.ts";
import { browserZone, lastDays, type ReportRange } from "./range.ts";
import {
  type AssetRanking,
  type Bucketing,
  formatSeconds,
  playsOverTime,
  tenantZone,
  topAssets,
  uptimeByScreen,
  zoneChoices,
} from "./shape.ts";
import { useReports } from "./use-reports.ts";

const rangeChoices = [
  { value: "1", label: "Today" },
  { value: "7", label: "Last 7 days" },
  { value: "30", label: "Last 30 days" },
  { value: "90", label: "Last 90 days" },
];
/** Hourly buckets only up to a week: 168 bars still read as a chart, 720 do not. */
const maxHourlyDays = 7;
const topAssetCount = 10;
/** Screens drawn in the uptime chart; the CSV has every screen. */
const uptimeScreenCount = 25;

/**
 * How long the page waits for the live fleet (whose screens give the default zone) before it
 * reports in the browser's zone: a fleet stream that cannot connect must not hide the reports.
 */
const fleetWaitMs = 3000;

/** False until `ms` have passed since the component mounted. */
function useElapsed(ms: number): boolean {
  const [elapsed, setElapsed] = useState(false);
  useEffect(() => {
    const timer = setTimeout(() => setElapsed(true), ms);
    return () => clearTimeout(timer);
  }, [ms]);
  return elapsed;
}

/**
 * Reports: proof of play and uptime over a range of local days, as charts (plays per day or hour,
 * top assets, screens by uptime) with the CSV exports of the same reports. Open to every role.
 */
export function ReportsPage() {
  const view = useFleetView();
  const fleetLate = useElapsed(fleetWaitMs);
  // biome-ignore lint/correctness/useExhaustiveDependencies: view.order changes exactly when the set of screens does.
  const zones = useMemo(
    () => [...view.screens.values()].map((screen) => screen.settings?.timezone ?? ""),
    [view.order],
  );
  return (
    <section aria-labelledby="reports-title">
      <div className="page-head">
        <div>
          <h1 id="reports-title">Reports</h1>
          <p className="sub">What your screens played and how long they were up, by local day.</p>
        </div>
      </div>
      {view.ready || fleetLate ? (
        <Reports zones={zones} defaultZone={tenantZone(zones, browserZone())} />
      ) : (
        <p className="muted" aria-busy="true">
          Loading the fleet…
        </p>
      )}
    </section>
  );
}

function Reports({ zones, defaultZone }: { zones: readonly string[]; defaultZone: string }) {
  const [days, setDays] = useState(7);
  const [bucketing, setBucketing] = useState<Bucketing>("day");
  const [zone, setZone] = useState(defaultZone);
  const range = useMemo(() => lastDays(days, new Date(), zone), [days, zone]);
  const query: CsvQuery = { start: range.start, end: range.end, bucketing, zone };
  const { plays, uptime } = useReports(query);
  const period = `${range.dates[0]}-to-${range.dates.at(-1)}`;
  return (
    <>
      <form className="filters" aria-label="Report options" onSubmit={(e) => e.preventDefault()}>
        <Select
          label="Range"
          value={String(days)}
          choices={rangeChoices}
          onChange={(value) => {
            const next = Number(value);
            setDays(next);
            if (next > maxHourlyDays) setBucketing("day");
          }}
        />
        <Select
          label="Buckets"
          value={bucketing}
          choices={[
            { value: "day", label: "Per day" },
            ...(days <= maxHourlyDays ? [{ value: "hour", label: "Per hour" }] : []),
          ]}
          onChange={(value) => setBucketing(value === "hour" ? "hour" : "day")}
        />
        <Select
          label="Time zone"
          value={zone}
          choices={zoneChoices(zones, browserZone()).map((z) => ({ value: z, label: z }))}
          onChange={setZone}
        />
      </form>
      <div className="card report-card">
        <div className="card-head">
          <h2>Plays</h2>
          <CsvButton kind="plays" query={query} fileName={`plays-${period}.csv`} />
        </div>
        {plays.error && (
          <p className="error" role="alert">
            {describeError(plays.error)}
          </p>
        )}
        {plays.isPending && <p className="muted">Loading…</p>}
        {plays.data && (
          <PlaysSection rows={plays.data.rows} truncated={plays.data.truncated} query={query} range={range} />
        )}
      </div>
      <div className="card report-card">
        <div className="card-head">
          <h2>Screens by uptime</h2>
          <CsvButton kind="uptime" query={query} fileName={`uptime-${period}.csv`} />
        </div>
        {uptime.error && (
          <p className="error" role="alert">
            {describeError(uptime.error)}
          </p>
        )}
        {uptime.isPending && <p className="muted">Loading…</p>}
        {uptime.data && <UptimeSection rows={uptime.data.rows} truncated={uptime.data.truncated} />}
      </div>
    </>
  );
}

function PlaysSection({
  rows,
  truncated,
  query,
  range,
}: {
  rows: readonly PlayReportRow[];
  truncated: boolean;
  query: CsvQuery;
  range: ReportRange;
}) {
  const [ranking, setRanking] = useState<AssetRanking>("plays");
  const buckets = useMemo(
    () => playsOverTime(rows, range, query.bucketing, query.zone),
    [rows, range, query.bucketing, query.zone],
  );
  const top = useMemo(() => topAssets(rows, ranking, topAssetCount), [rows, ranking]);
  const plays = buckets.reduce((sum, b) => sum + b.plays, 0);
  const seconds = buckets.reduce((sum, b) => sum + b.seconds, 0);
  if (plays === 0) {
    return (
      <p className="empty">
        No plays in this range. Screens report what they played about once a minute, once they play a published
        playlist.
      </p>
    );
  }
  return (
    <>
      {truncated && <CutNotice />}
      <p className="report-total" data-testid="plays-total">
        {plays} {plays === 1 ? "play" : "plays"} · {formatSeconds(seconds)} played · {query.zone}
      </p>
      <PlaysTimeline buckets={buckets} caption={bucketsCaption(query.bucketing)} />
      <div className="card-head">
        <h3>Top assets</h3>
        <fieldset className="button-row">
          <legend className="sr-only">Rank by</legend>
          {(["plays", "seconds"] as const).map((by) => (
            <button key={by} type="button" aria-pressed={ranking === by} onClick={() => setRanking(by)}>
              {by === "plays" ? "By plays" : "By time played"}
            </button>
          ))}
        </fieldset>
      </div>
      <AssetBars assets={top.assets} by={ranking} />
      {top.others > 0 && (
        <p className="muted small">
          {top.others} more {top.others === 1 ? "asset" : "assets"} in the CSV.
        </p>
      )}
    </>
  );
}

function bucketsCaption(bucketing: Bucketing): string {
  return bucketing === "day" ? "Plays per day" : "Plays per hour";
}

function UptimeSection({ rows, truncated }: { rows: readonly UptimeReportRow[]; truncated: boolean }) {
  const screens = useMemo(() => uptimeByScreen(rows), [rows]);
  if (screens.length === 0) {
    return <p className="empty">No screens in this range. Screens appear here once they are added to the fleet.</p>;
  }
  const shown = screens.slice(0, uptimeScreenCount);
  return (
    <>
      {truncated && <CutNotice />}
      <ul className="legend" aria-label="Legend">
        {uptimeParts.map((part) => (
          <li key={part.key}>
            <span className={`swatch seg-${part.key}`} aria-hidden="true" />
            {part.label}
          </li>
        ))}
      </ul>
      <UptimeBars screens={shown} />
      <p className="muted small">
        {screens.length > shown.length
          ? `The ${shown.length} screens with the least playing time of ${screens.length}; the CSV has every screen.`
          : "Least playing time first. Time before a screen was added is not counted."}
      </p>
    </>
  );
}

function CutNotice() {
  return (
    <p className="notice">
      This report is too large to chart whole: the charts show its first part. The CSV has all of it.
    </p>
  );
}

/** Downloads one report's CSV with the session; shows the server's refusal in words. */
function CsvButton({ kind, query, fileName }: { kind: "plays" | "uptime"; query: CsvQuery; fileName: string }) {
  const { baseUrl, tokens } = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const label = kind === "plays" ? "Download plays CSV" : "Download uptime CSV";
  return (
    <div className="csv-button">
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          setError(undefined);
          downloadCsv(baseUrl, reportCsvPath(kind, query), tokens.get(), fileName)
            .catch((err: unknown) => setError(describeError(err)))
            .finally(() => setBusy(false));
        }}
      >
        {busy ? "Preparing…" : label}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
