import { evaluateSchedule, type RuleTiming } from "@avtech/proto";
import type { DisplayHours } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";

/** Whether the display should be on, and until when that holds. */
export interface DisplayDecision {
  on: boolean;
  /** When the answer can next change; undefined when it never will (no display hours: always on). */
  nextChangeAt: Date | undefined;
}

const on = "on";

/**
 * Evaluates display hours at `at` in `timezone` with the shared schedule evaluation, so day
 * lists, midnight-crossing windows and DST gaps/overlaps mean exactly what they mean for rules:
 * each entry becomes a rule that "plays" the display, with no default. Empty hours: always on.
 */
export function evaluateDisplayHours(hours: readonly DisplayHours[], timezone: string, at: Date): DisplayDecision {
  if (hours.length === 0) return { on: true, nextChangeAt: undefined };
  const rules: RuleTiming[] = hours.map((entry, index) => ({
    id: `display-hours-${index}`,
    playlistId: on,
    priority: 0,
    startDate: undefined,
    endDate: undefined,
    window: entry.window,
    daysOfWeek: entry.daysOfWeek,
  }));
  const decision = evaluateSchedule({ rules, defaultPlaylistId: "", timezone }, at);
  return { on: decision.playlistId === on, nextChangeAt: decision.nextChangeAt };
}
