export type { MediaIndex, ScheduleSnapshot, ScheduleTimerDeps } from "./timer.ts";
export { ScheduleTimer } from "./timer.ts";
