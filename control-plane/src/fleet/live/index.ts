export type { ScreenSession } from "./session-registry.ts";
export { SessionRegistry } from "./session-registry.ts";
