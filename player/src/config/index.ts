export type { Enrollment, MpvConfig, PlayerConfig, WatchdogConfig } from "./config.ts";
export { ConfigError, defaultConfigPath, loadConfig, parseConfig } from "./config.ts";
