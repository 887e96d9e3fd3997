export type { Enrollment, MpvConfig, PlayerConfig } from "./config.ts";
export { ConfigError, defaultConfigPath, loadConfig, parseConfig } from "./config.ts";
