export type { DisplayDecision } from "./display-hours.ts";
export { evaluateDisplayHours } from "./display-hours.ts";
export type { MediaIndex, ScheduleSnapshot, ScheduleTimerDeps } from "./timer.ts";
export { outputSettingsOf, ScheduleTimer, screenTimeZone } from "./timer.ts";
