export type { Config, ConfigInput } from "./config.ts";
export {
  alertSettingDefaults,
  configSchema,
  fleetSettingDefaults,
  maxCommandTtlSeconds,
  reportSettingDefaults,
} from "./config.ts";
export type { ConfigSources } from "./load.ts";
export { ConfigError, loadConfig } from "./load.ts";
