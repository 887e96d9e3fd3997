import type { RuleTiming } from "./evaluate.ts";
import { compareDates, isRealDate } from "./zoned-time.ts";

/**
 * The problems that make a rule unusable, as messages that say what to fix; empty when valid.
 * The control plane refuses such rules with INVALID_ARGUMENT; the player ignores them.
 */
export function ruleProblems(rule: RuleTiming): string[] {
  const problems: string[] = [];
  if (rule.playlistId === "") problems.push("playlist_id is required");
  if (rule.startDate && !isRealDate(rule.startDate)) problems.push("start_date is not a real calendar date");
  if (rule.endDate && !isRealDate(rule.endDate)) problems.push("end_date is not a real calendar date");
  if (rule.startDate && rule.endDate && compareDates(rule.endDate, rule.startDate) < 0) {
    problems.push("end_date is before start_date: the rule would never apply");
  }
  for (const day of rule.daysOfWeek) {
    if (!Number.isInteger(day) || day < 1 || day > 7) {
      problems.push(`days_of_week contains ${day}: use 1 (Monday) to 7 (Sunday)`);
    }
  }
  if (rule.window) {
    const { startMinute, endMinute } = rule.window;
    if (startMinute > 1439) problems.push(`window.start_minute ${startMinute} is past 23:59: use 0..1439`);
    if (endMinute < 1 || endMinute > 1440) problems.push(`window.end_minute ${endMinute} is out of range: use 1..1440`);
  }
  return problems;
}
