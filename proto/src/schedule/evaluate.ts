import type { ScheduleRule } from "../gen/avtech/device/v1/state_pb.js";
import { addDays, type CivilDate, compareDates, instantOf, isoWeekday, localDateOf } from "./zoned-time.ts";

/**
 * The fields of a rule that decide when it is active. Both the device's `ScheduleRule` and the
 * console's `schedule.v1.Rule` have them, so the control plane previews with the exact function
 * the player plays by.
 */
export type RuleTiming = Pick<ScheduleRule, "id" | "playlistId" | "priority" | "startDate" | "endDate" | "window"> & {
  daysOfWeek: readonly number[];
};

/** What a screen should play. */
export interface ScheduleInput {
  rules: readonly RuleTiming[];
  /** Played when no rule is active; empty = none (standby slate). */
  defaultPlaylistId: string;
  /** IANA zone of the screen, e.g. "Europe/Madrid". */
  timezone: string;
}

/** The answer for one instant. */
export interface ScheduleDecision {
  /** The playlist to play, or undefined for the standby slate. */
  playlistId: string | undefined;
  /** The active rule that chose it; undefined when the default playlist (or nothing) plays. */
  ruleId: string | undefined;
  /**
   * The next instant at which the answer can change (a rule window opens or closes). When no
   * rule will ever change it, {@link horizonDays} days ahead. Re-evaluate then.
   */
  nextChangeAt: Date;
}

/** How many days ahead windows are searched; also the re-evaluation delay when nothing will change. */
export const horizonDays = 7;

interface Interval {
  start: number;
  end: number;
}

/**
 * Decides what plays at `at`: among the rules active then, the highest priority wins and ties go
 * to the smaller id (a stable, documented order); with none active, the default playlist.
 * A rule is active on a local date when the date is inside its inclusive date range and its
 * days of week, during its local time window (all day when unset). A window whose end is not
 * after its start crosses midnight and belongs to the day it starts on. Times that fall into a
 * DST gap move forward by the gap; times repeated by a DST overlap take the first occurrence.
 */
export function evaluateSchedule(input: ScheduleInput, at: Date): ScheduleDecision {
  const now = at.getTime();
  const today = localDateOf(at, input.timezone);
  let winner: RuleTiming | undefined;
  let next = Number.POSITIVE_INFINITY;

  for (const rule of input.rules) {
    const intervals = mergedOccurrences(rule, today, input.timezone);
    for (const interval of intervals) {
      if (interval.start <= now && now < interval.end && (winner === undefined || outranks(rule, winner))) {
        winner = rule;
      }
      if (interval.start > now) next = Math.min(next, interval.start);
      if (interval.end > now) next = Math.min(next, interval.end);
    }
    if (rule.startDate && compareDates(rule.startDate, addDays(today, horizonDays + 1)) > 0) {
      // The rule begins beyond the scanned days: its first window is the next change it brings.
      const first = mergedOccurrences(rule, rule.startDate, input.timezone)[0];
      if (first) next = Math.min(next, first.start);
    }
  }

  return {
    playlistId: winner?.playlistId ?? (input.defaultPlaylistId || undefined),
    ruleId: winner?.id,
    nextChangeAt: new Date(Number.isFinite(next) ? next : now + horizonDays * 86_400_000),
  };
}

function outranks(a: RuleTiming, b: RuleTiming): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.id < b.id;
}

/** The rule's windows starting from the day before `from` through the horizon, adjacent ones joined. */
function mergedOccurrences(rule: RuleTiming, from: CivilDate, timezone: string): Interval[] {
  const merged: Interval[] = [];
  for (let offset = -1; offset <= horizonDays + 1; offset++) {
    const interval = occurrence(rule, addDays(from, offset), timezone);
    if (!interval) continue;
    const last = merged.at(-1);
    if (last && interval.start <= last.end) last.end = Math.max(last.end, interval.end);
    else merged.push(interval);
  }
  return merged;
}

/** The window the rule opens on local date `date`, if it applies that day. */
function occurrence(rule: RuleTiming, date: CivilDate, timezone: string): Interval | undefined {
  if (rule.startDate && compareDates(date, rule.startDate) < 0) return undefined;
  if (rule.endDate && compareDates(date, rule.endDate) > 0) return undefined;
  if (rule.daysOfWeek.length > 0 && !rule.daysOfWeek.includes(isoWeekday(date))) return undefined;
  const startMinute = rule.window?.startMinute ?? 0;
  const endMinute = rule.window?.endMinute ?? 1440;
  const endDate = endMinute <= startMinute ? addDays(date, 1) : date;
  const start = instantOf(date, startMinute, timezone).getTime();
  const end = instantOf(endDate, endMinute, timezone).getTime();
  // Shifting a start out of a DST gap can pass the end (02:50–03:10 on spring-forward night).
  return end > start ? { start, end } : undefined;
}
