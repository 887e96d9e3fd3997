/**
 * @avtech/io: small I/O building blocks the control plane, the player and the fleet simulator
 * share. Nothing here is part of a contract: the contracts and the pure functions that give them
 * meaning stay in `@avtech/proto`. Neither module needs Node at run time (WriteBehind only names
 * the type of a FileHandle), so browser code could import this entry too.
 */

export { AsyncQueue } from "./async-queue/index.ts";
export type { AppendTarget, WriteBehindOptions } from "./write-behind/index.ts";
export { WriteBehind } from "./write-behind/index.ts";
