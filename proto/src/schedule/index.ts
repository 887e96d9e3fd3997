export type { RuleTiming, ScheduleDecision, ScheduleInput } from "./evaluate.ts";
export { evaluateSchedule, horizonDays } from "./evaluate.ts";
export { ruleProblems } from "./validate.ts";
export type { CivilDate } from "./zoned-time.ts";
export { addDays, instantOf, isoWeekday, isValidTimeZone, localDateOf } from "./zoned-time.ts";
