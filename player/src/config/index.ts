export type { Enrollment, MpvConfig, PlayerConfig, UpdateConfig, WatchdogConfig } from "./config.ts";
export { ConfigError, defaultConfigPath, loadConfig, parseConfig } from "./config.ts";
