import type { PlayReportRow, UptimeReportRow } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { hoursOf, localDate, type ReportRange } from "./range.ts";

/*
 * The Reports page's data shaping, kept pure so it is tested without a browser: report rows in,
 * what the charts draw out. Play rows come per asset and bucket (one query feeds both the timeline
 * and the top assets: every play has exactly one asset row, possibly with an empty id), uptime rows
 * per screen and day.
 */

/** Size of the timeline's buckets. */
export type Bucketing = "day" | "hour";

/** One bar of the plays timeline. */
export interface TimeBucket {
  /** The local date (daily) or the hour's ISO instant (hourly): what rows are matched on. */
  key: string;
  /** The local date, or date and hour, spelled out for tooltips and tests (2026-12-05, 2026-12-05 14:00). */
  label: string;
  plays: number;
  seconds: number;
}

const hourLabel = (at: Date, zone: string): string => {
  const time = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit" }).format(at);
  return `${localDate(at, zone)} ${time}`;
};

/**
 * Plays and seconds per bucket over the whole range, with a zero bar for every bucket without
 * plays (the server only answers buckets that have some). Hourly buckets are the range's UTC hours
 * labelled in `zone`; daily ones its local dates.
 */
export function playsOverTime(
  rows: readonly PlayReportRow[],
  range: ReportRange,
  bucketing: Bucketing,
  zone: string,
): TimeBucket[] {
  const buckets =
    bucketing === "day"
      ? range.dates.map((date) => ({ key: date, label: date, plays: 0, seconds: 0 }))
      : hoursOf(range).map((at) => ({ key: at.toISOString(), label: hourLabel(at, zone), plays: 0, seconds: 0 }));
  const byKey = new Map(buckets.map((bucket) => [bucket.key, bucket]));
  for (const row of rows) {
    const key = bucketing === "day" ? row.date : row.bucketStart && timestampDate(row.bucketStart).toISOString();
    const bucket = key === undefined ? undefined : byKey.get(key);
    if (!bucket) continue;
    bucket.plays += Number(row.plays);
    bucket.seconds += row.secondsPlayed;
  }
  return buckets;
}

const shortDate = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", day: "numeric", month: "short" });

/**
 * Which bars of a timeline get an axis label, and what it says, for at most about `room` labels:
 * daily bars their date ("30 Nov"), every few days when crowded; hourly bars of one day every few
 * hours ("14:00"); hourly bars of several days their local midnights, as dates, so a week of hours
 * reads by day. Keys are bar indexes.
 */
export function timeAxisLabels(buckets: readonly TimeBucket[], room: number): Map<number, string> {
  const dateOf = (bucket: TimeBucket) => shortDate.format(new Date(`${bucket.label.slice(0, 10)}T00:00:00Z`));
  const labels = new Map<number, string>();
  const hourly = buckets.some((bucket) => bucket.label.length > 10);
  const midnights = buckets.flatMap((bucket, n) => (bucket.label.endsWith(" 00:00") ? [n] : []));
  if (hourly && midnights.length > 1) {
    const every = Math.ceil(midnights.length / Math.max(1, room));
    midnights.forEach((n, k) => {
      if (k % every === 0) labels.set(n, dateOf(buckets[n] as TimeBucket));
    });
    return labels;
  }
  const every = Math.ceil(buckets.length / Math.max(1, room));
  buckets.forEach((bucket, n) => {
    if (n % every !== 0) return;
    const time = bucket.label.slice(11);
    labels.set(n, hourly && time !== "00:00" ? time : dateOf(bucket));
  });
  return labels;
}

/** One asset's plays over the whole range. */
export interface AssetTotal {
  id: string;
  /** The clip's name now; a deleted clip or a play whose clip the screen did not report has a stand-in. */
  name: string;
  plays: number;
  seconds: number;
}

/** What top-asset lists are ranked by. */
export type AssetRanking = "plays" | "seconds";

/** The assets with the most plays (or seconds), at most `limit`; ties by name. `others` counts the rest. */
export function topAssets(
  rows: readonly PlayReportRow[],
  by: AssetRanking,
  limit: number,
): { assets: AssetTotal[]; others: number } {
  const totals = new Map<string, AssetTotal>();
  for (const row of rows) {
    let total = totals.get(row.id);
    if (!total) {
      total = { id: row.id, name: assetName(row), plays: 0, seconds: 0 };
      totals.set(row.id, total);
    }
    total.plays += Number(row.plays);
    total.seconds += row.secondsPlayed;
  }
  const ranked = [...totals.values()].sort((a, b) => b[by] - a[by] || a.name.localeCompare(b.name));
  return { assets: ranked.slice(0, limit), others: Math.max(0, ranked.length - limit) };
}

function assetName(row: PlayReportRow): string {
  if (row.name !== "") return row.name;
  return row.id === "" ? "Clip not reported by the screen" : `Deleted clip ${row.id.slice(0, 8)}`;
}

/** One screen's time over the range, in seconds, by what it was doing. */
export interface ScreenUptime {
  screenId: string;
  name: string;
  playing: number;
  displayOff: number;
  /** Online without playing: standby slate, pairing, recovering. */
  idle: number;
  offline: number;
  /** playing + displayOff + idle + offline: the time the screen existed and was recorded. */
  tracked: number;
}

/**
 * Each screen's days added up, fewest playing seconds per tracked second first (the screens that
 * need a look come first); ties by name. Untracked time (before the screen existed, the future)
 * is left out, so a screen added yesterday is judged on its one day.
 */
export function uptimeByScreen(rows: readonly UptimeReportRow[]): ScreenUptime[] {
  const screens = new Map<string, ScreenUptime>();
  for (const row of rows) {
    let screen = screens.get(row.screenId);
    if (!screen) {
      screen = {
        screenId: row.screenId,
        name: row.screenName,
        playing: 0,
        displayOff: 0,
        idle: 0,
        offline: 0,
        tracked: 0,
      };
      screens.set(row.screenId, screen);
    }
    screen.playing += row.playingSeconds;
    screen.displayOff += row.displayOffSeconds;
    screen.idle += row.idleSeconds;
    screen.offline += row.offlineSeconds;
    screen.tracked += row.playingSeconds + row.displayOffSeconds + row.idleSeconds + row.offlineSeconds;
  }
  const share = (s: ScreenUptime) => (s.tracked > 0 ? s.playing / s.tracked : 0);
  return [...screens.values()].sort((a, b) => share(a) - share(b) || a.name.localeCompare(b.name));
}

/** `part` of `whole` as a whole percentage ("0 %" of nothing). */
export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 100) : 0;
}

/** "45 s", "4 min 10 s", "2 h 5 min", "3 d 4 h": two units at most. */
export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  if (s < 86_400) {
    const m = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)} h${m ? ` ${m} min` : ""}`;
  }
  const h = Math.floor((s % 86_400) / 3600);
  return `${Math.floor(s / 86_400)} d${h ? ` ${h} h` : ""}`;
}

/**
 * The gridlines of a count axis from 0 to at least `max`: at most five steps of 1, 2 or 5 × 10ⁿ
 * (whole numbers: plays are counted, never halved), the last at or above `max`.
 */
export function countTicks(max: number): number[] {
  let step = 1;
  for (let power = 1; Math.ceil(max / step) > 5; power *= 10) {
    step = [1, 2, 5, 10].map((m) => m * power).find((s) => Math.ceil(max / s) <= 5) ?? 10 * power;
  }
  const steps = Math.max(1, Math.ceil(max / step));
  return Array.from({ length: steps + 1 }, (_, n) => n * step);
}

/**
 * The zone reports default to. Tenants have no zone setting yet (fleet/report/README.md), so the
 * tenant's zone is read from its screens: the zone most of them are in (ties alphabetically), the
 * browser's when there are no screens.
 */
export function tenantZone(screenZones: Iterable<string>, fallback: string): string {
  const counts = new Map<string, number>();
  for (const zone of screenZones) if (zone !== "") counts.set(zone, (counts.get(zone) ?? 0) + 1);
  let best: [string, number] | undefined;
  for (const entry of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
    if (!best || entry[1] > best[1]) best = entry;
  }
  return best?.[0] ?? fallback;
}

/** The zones to offer: the screens' zones, the browser's and UTC, each once, sorted. */
export function zoneChoices(screenZones: Iterable<string>, browser: string): string[] {
  return [...new Set([...screenZones, browser, "UTC"].filter((zone) => zone !== ""))].sort();
}
