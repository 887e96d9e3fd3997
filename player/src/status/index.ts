export type { StatusSnapshot } from "./status.ts";
export { formatStatus, readStatus, writeStatus } from "./status.ts";
