export type { Runner } from "./fat.ts";
export { listBootFiles, readBootFile, readPartitions, writeBootFiles } from "./fat.ts";
export type { MbrPartition } from "./mbr.ts";
export { findBootPartition, parseMbr } from "./mbr.ts";
export { processRunner } from "./runner.ts";
