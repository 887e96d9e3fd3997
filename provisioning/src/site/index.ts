export type { BootFile, SiteSettings, SystemSettings } from "./site.ts";
export {
  bootMountPath,
  caCertName,
  checkSite,
  playerConfigName,
  renderBootFiles,
  SiteError,
  systemConfigName,
  systemSettingsSchema,
} from "./site.ts";
export { parseSystemSettings } from "./system.ts";
