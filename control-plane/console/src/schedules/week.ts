import type { Rule } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";

/** One rectangle of the week view: a rule's window on one weekday (Monday = 1). */
export interface WeekBlock {
  rule: Rule;
  day: number;
  startMinute: number;
  endMinute: number;
}

const dayMinutes = 24 * 60;

/**
 * Lays rules out on a Monday..Sunday grid. A rule with no days plays every day; no window means
 * all day; a window that ends at or before its start crosses midnight and continues on the next
 * day (Sunday continues on Monday). Date ranges are not drawn here but listed beside the grid.
 */
export function weekBlocks(rules: readonly Rule[]): WeekBlock[] {
  const blocks: WeekBlock[] = [];
  for (const rule of rules) {
    const days = rule.daysOfWeek.length > 0 ? rule.daysOfWeek.map(Number) : [1, 2, 3, 4, 5, 6, 7];
    const start = rule.window?.startMinute ?? 0;
    const end = rule.window ? rule.window.endMinute : dayMinutes;
    for (const day of days) {
      if (!rule.window || end > start) {
        blocks.push({ rule, day, startMinute: start, endMinute: rule.window ? end : dayMinutes });
      } else {
        blocks.push({ rule, day, startMinute: start, endMinute: dayMinutes });
        if (end > 0) blocks.push({ rule, day: (day % 7) + 1, startMinute: 0, endMinute: end });
      }
    }
  }
  return blocks;
}

/** 570 → "09:30". */
export function minuteLabel(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}

/** "09:30" → 570; undefined for an empty or malformed value. */
export function parseMinute(value: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(value);
  if (!m) return undefined;
  const minute = Number(m[1]) * 60 + Number(m[2]);
  return minute <= dayMinutes ? minute : undefined;
}
