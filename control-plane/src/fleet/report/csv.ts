import type { PlayRow, UptimeRow } from "./ports.ts";

/*
 * CSV of the reports (RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted
 * and their quotes doubled). Names come from people, so a field starting with = + - @ (or a tab
 * or carriage return) is prefixed with ' to keep spreadsheets from running it as a formula (the
 * OWASP advice on CSV injection); ids, dates and numbers never start with one.
 */

function field(value: string | number): string {
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function line(values: ReadonlyArray<string | number>): string {
  return `${values.map(field).join(",")}\r\n`;
}

const iso = (at: Date | undefined) => at?.toISOString() ?? "";
/** Seconds with millisecond precision, as the RPC's double shows them. */
const seconds = (ms: number) => ms / 1000;

/** The header of a play report's CSV. */
export const playCsvHeader = line([
  "id",
  "name",
  "date",
  "bucket_start",
  "bucket_end",
  "time_zone",
  "plays",
  "completed_plays",
  "seconds_played",
]);

/** Rows of a play report as CSV lines. */
export function playCsvRows(rows: readonly PlayRow[]): string {
  return rows
    .map((row) =>
      line([
        row.id,
        row.name,
        row.date,
        iso(row.bucketStart),
        iso(row.bucketEnd),
        row.timeZone,
        row.plays,
        row.completed,
        seconds(row.playedMs),
      ]),
    )
    .join("");
}

/** The header of an uptime report's CSV. */
export const uptimeCsvHeader = line([
  "screen_id",
  "screen_name",
  "date",
  "day_start",
  "day_end",
  "time_zone",
  "playing_seconds",
  "display_off_seconds",
  "idle_seconds",
  "offline_seconds",
  "untracked_seconds",
]);

/** Rows of an uptime report as CSV lines. */
export function uptimeCsvRows(rows: readonly UptimeRow[]): string {
  return rows
    .map((row) =>
      line([
        row.screenId,
        row.screenName,
        row.date,
        iso(row.dayStart),
        iso(row.dayEnd),
        row.timeZone,
        seconds(row.playingMs),
        seconds(row.displayOffMs),
        seconds(row.idleMs),
        seconds(row.offlineMs),
        seconds(row.untrackedMs),
      ]),
    )
    .join("");
}
