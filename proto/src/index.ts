/**
 * @avtech/proto: the contracts' generated code lives under `@avtech/proto/gen/...`; this
 * entry point exports the pure functions that give the contracts their meaning on both sides
 * (schedule evaluation and validation, sha256 digests). It is also imported by the browser
 * console. I/O helpers (AsyncQueue, WriteBehind) are not contracts: they are in `@avtech/io`.
 */

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
