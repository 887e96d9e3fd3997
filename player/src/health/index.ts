export type { HealthDeps } from "./health.ts";
export { displayConnected, HealthSampler } from "./health.ts";
export type { DeviceIdentity } from "./identity.ts";
export { readIdentity } from "./identity.ts";
