/*
 * Calendar arithmetic in an IANA zone with the browser's own Intl data (no date library): local
 * dates as YYYY-MM-DD strings, and the instant a local date starts. Reports count whole UTC hours,
 * so a range from one local midnight to another is what the server reads exactly (zones with
 * half-hour offsets are rounded up to the hour by the server, which says so in its answer).
 */

const hourMs = 3_600_000;
const dayMs = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A formatter giving the wall-clock fields of an instant in `zone` (cached: they are costly to build). */
function wallClock(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** The wall clock of `at` in `zone`, read as if it were UTC (epoch ms). */
function wallMs(at: number, zone: string): number {
  const parts: Record<string, number> = {};
  for (const part of wallClock(zone).formatToParts(at)) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
}

/** The local date (YYYY-MM-DD) of `at` in `zone`. */
export function localDate(at: Date, zone: string): string {
  return new Date(wallMs(at.getTime(), zone)).toISOString().slice(0, 10);
}

/** `date` moved by `days` calendar days. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * dayMs).toISOString().slice(0, 10);
}

/**
 * The first instant of local date `date` in `zone`. The offset is read twice because the offset at
 * the UTC guess may differ from the one at local midnight when a daylight-saving change lies
 * between them.
 */
export function zonedMidnight(date: string, zone: string): Date {
  const wall = Date.parse(`${date}T00:00:00Z`);
  let at = wall - (wallMs(wall, zone) - wall);
  at = wall - (wallMs(at, zone) - at);
  return new Date(at);
}

/** A report's range: local days, and the instants that bound them. */
export interface ReportRange {
  /** Local midnight of the first day. */
  start: Date;
  /** Local midnight after the last day (exclusive). */
  end: Date;
  /** Every local date of the range, oldest first. */
  dates: string[];
}

/** The `days` local days up to and including today in `zone`. */
export function lastDays(days: number, now: Date, zone: string): ReportRange {
  const today = localDate(now, zone);
  const dates = Array.from({ length: days }, (_, n) => addDays(today, n - days + 1));
  return {
    start: zonedMidnight(dates[0] ?? today, zone),
    end: zonedMidnight(addDays(today, 1), zone),
    dates,
  };
}

/** The whole UTC hours of a range, as the server rounds it: from `start` rounded up, before `end` rounded up. */
export function hoursOf(range: Pick<ReportRange, "start" | "end">): Date[] {
  const first = Math.ceil(range.start.getTime() / hourMs) * hourMs;
  const last = Math.ceil(range.end.getTime() / hourMs) * hourMs;
  const hours: Date[] = [];
  for (let at = first; at < last; at += hourMs) hours.push(new Date(at));
  return hours;
}

/** The browser's zone, UTC when it has none. */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
