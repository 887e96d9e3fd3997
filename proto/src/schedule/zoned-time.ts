/**
 * Wall-clock arithmetic in IANA time zones on top of Intl (Node has no Temporal yet).
 * Local times that do not exist (the spring-forward gap) move forward by the gap; local times
 * that exist twice (the fall-back overlap) take the earlier instant — Temporal's "compatible"
 * disambiguation, which is what people expect from a calendar.
 */

/** A calendar date without a zone; `month` is 1..12. */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

const minuteMs = 60_000;
const dayMs = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** True when `timeZone` is an IANA zone name this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone === "") return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock fields of `instantMs` in `timeZone`, as if they were UTC milliseconds. */
function wallClockAsUtc(instantMs: number, timeZone: string): number {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(instantMs))) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  return Date.UTC(
    fields.year ?? 1970,
    (fields.month ?? 1) - 1,
    fields.day ?? 1,
    fields.hour ?? 0,
    fields.minute ?? 0,
    fields.second ?? 0,
  );
}

/** The zone's offset from UTC at `instantMs`, in milliseconds (east positive). */
function offsetAt(instantMs: number, timeZone: string): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  return wallClockAsUtc(whole, timeZone) - whole;
}

/** The local calendar date of `instant` in `timeZone`. */
export function localDateOf(instant: Date, timeZone: string): CivilDate {
  const wall = new Date(wallClockAsUtc(instant.getTime(), timeZone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() };
}

/** The instant at which the wall clock in `timeZone` shows `minute` minutes after midnight of `date`. */
export function instantOf(date: CivilDate, minute: number, timeZone: string): Date {
  const wallMs = Date.UTC(date.year, date.month - 1, date.day) + minute * minuteMs;
  const before = offsetAt(wallMs - dayMs, timeZone);
  const after = offsetAt(wallMs + dayMs, timeZone);
  const candidates = [wallMs - before, wallMs - after].filter(
    (instant) => wallClockAsUtc(instant, timeZone) === wallMs,
  );
  if (candidates.length > 0) return new Date(Math.min(...candidates));
  // In the gap: the pre-transition offset lands after the transition, shifted forward by the gap.
  return new Date(wallMs - before);
}

/** `date` moved by `days` calendar days. */
export function addDays(date: CivilDate, days: number): CivilDate {
  const shifted = new Date(Date.UTC(date.year, date.month - 1, date.day) + days * dayMs);
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

/** ISO weekday of `date`: Monday = 1 … Sunday = 7. */
export function isoWeekday(date: CivilDate): number {
  const day = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
  return day === 0 ? 7 : day;
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareDates(a: CivilDate, b: CivilDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

/** True when the fields name a real calendar date (no 30 February). */
export function isRealDate(date: CivilDate): boolean {
  if (!Number.isInteger(date.year) || date.year < 1 || date.month < 1 || date.month > 12 || date.day < 1) return false;
  const check = new Date(Date.UTC(date.year, date.month - 1, date.day));
  return check.getUTCMonth() === date.month - 1 && check.getUTCDate() === date.day;
}
