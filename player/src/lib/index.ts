export type { BackoffOptions } from "./backoff.ts";
export { Backoff } from "./backoff.ts";
export type { Clock, TimerHandle } from "./clock.ts";
export { sleep, systemClock } from "./clock.ts";
export { runLimited } from "./limit.ts";
export type { ProcessRunner, RunResult } from "./process.ts";
export { execRunner } from "./process.ts";
