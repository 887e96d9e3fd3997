/**
 * @avtech/proto: the contracts' generated code lives under `@avtech/proto/gen/...`; this
 * entry point exports the small pieces both the control plane and the player need: pure
 * functions and AsyncQueue. It is also imported by the browser console, so Node-only helpers
 * have their own entry points (`@avtech/proto/write-behind`).
 */

export { AsyncQueue } from "./async-queue/index.ts";
export type { Sha256Hex } from "./digest/index.ts";
export { isSha256Hex } from "./digest/index.ts";
export type { CivilDate, RuleTiming, ScheduleDecision, ScheduleInput } from "./schedule/index.ts";
export {
  addDays,
  evaluateSchedule,
  horizonDays,
  instantOf,
  isoWeekday,
  isValidTimeZone,
  localDateOf,
  ruleProblems,
} from "./schedule/index.ts";
