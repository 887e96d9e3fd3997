export type { PgWakeupsOptions } from "./pg-wakeups.ts";
export { chunkPayloads, PgWakeups, wakeupChannel } from "./pg-wakeups.ts";
