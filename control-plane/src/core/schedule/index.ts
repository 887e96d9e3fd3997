export type { ContentNames } from "./content-names.ts";
export { createDbContentNames } from "./content-names.ts";
export type { AssetCatalog, PublishSources, TenantPublishSources } from "./publish-sources.ts";
export { createDbAssetCatalog, createDbPublishSources } from "./publish-sources.ts";
export type { ScheduleServiceDeps } from "./service.ts";
export { createScheduleService } from "./service.ts";
