export type { Applied, ApplyPaths, DeviceSystem } from "./apply.ts";
export { applySystemSettings, hostnameFor, timezoneOf, wpaSupplicantConfig } from "./apply.ts";
