export type { AppendTarget, WriteBehindOptions } from "./write-behind.ts";
export { WriteBehind } from "./write-behind.ts";
