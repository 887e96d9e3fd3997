/** Tools for field installers and fleet managers: site files on the boot partition, enrollment keys, checklists. */
export type { MbrPartition, Runner } from "./bootpart/index.ts";
export {
  findBootPartition,
  listBootFiles,
  parseMbr,
  processRunner,
  readBootFile,
  readPartitions,
  writeBootFiles,
} from "./bootpart/index.ts";
export { pairingChecklist } from "./checklist/index.ts";
export type { Applied, ApplyPaths, DeviceSystem } from "./device/index.ts";
export { applySystemSettings, hostnameFor, timezoneOf, wpaSupplicantConfig } from "./device/index.ts";
export type {
  EnrollmentKey,
  EnrollmentKeyInfo,
  EnrollmentKeyRequest,
  EnrollmentKeyStateName,
  KeyByName,
} from "./enroll/index.ts";
export {
  createEnrollmentKey,
  keyByName,
  keysJson,
  keyTable,
  listEnrollmentKeys,
  revokeEnrollmentKey,
} from "./enroll/index.ts";
export type { ImagerDevice, ImagerEntry, ImagerEntryInput } from "./imager/index.ts";
export { imagerEntry, imagerRepository } from "./imager/index.ts";
export type { BootFile, SiteSettings, SystemSettings } from "./site/index.ts";
export {
  checkSite,
  parseSystemSettings,
  playerConfigName,
  renderBootFiles,
  SiteError,
  systemConfigName,
  systemSettingsSchema,
} from "./site/index.ts";
