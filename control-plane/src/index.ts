/**
 * @avtech/control-plane: what a demo, an end-to-end test or another process embedding the
 * control plane needs. The process entry points are main.ts (server) and cli.ts (admin CLI).
 */

export type {
  AdminCliContext,
  AdminCommands,
  CreateApiTokenInput,
  CreateTenantInput,
  CreateUserInput,
} from "./admin/index.ts";
export { AdminCommandError, adminExitCodes, createAdminCommands, runAdminCli } from "./admin/index.ts";
export type { OpenDatabase } from "./app.ts";
export { openDatabase, prepareBlobDir } from "./app.ts";
export type {
  AssembledControlPlane,
  ControlPlaneParts,
  CoreParts,
  FleetMount,
  FleetPlane,
  FleetPlaneDeps,
  FleetServices,
  WakeupBus,
} from "./assemble.ts";
export { assembleControlPlane, buildControlPlaneServer, createFleetPlane, servedFiles } from "./assemble.ts";
export type { BlobStore, MediaTools } from "./core/content/index.ts";
export { createFfmpegTools, createFsBlobStore } from "./core/content/index.ts";
export { createDbAssetCatalog, createDbPublishSources } from "./core/schedule/index.ts";
export { bearerToken } from "./platform/auth/bearer.ts";
export type { Principal } from "./platform/auth/index.ts";
export { principalOf } from "./platform/auth/index.ts";
export type { Clock } from "./platform/clock.ts";
export { systemClock } from "./platform/clock.ts";
export type { Config, ConfigInput, ConfigSources } from "./platform/config/index.ts";
export { ConfigError, loadConfig } from "./platform/config/index.ts";
export type { EmbeddedPostgresOptions, RunningPostgres } from "./platform/db/embedded-postgres.ts";
export { findFreePort, startEmbeddedPostgres } from "./platform/db/embedded-postgres.ts";
export { createOrm, migrate } from "./platform/db/orm.ts";
export { createLogger } from "./platform/logger.ts";
export type { HttpRoute } from "./platform/server/http-routes.ts";
export type { ControlPlaneServer, ServerAddresses, ServerDeps } from "./platform/server/server.ts";
export { createServer } from "./platform/server/server.ts";

import type { MikroORM } from "@mikro-orm/postgresql";
import { type AdminCommands, createAdminCommands as makeAdminCommands } from "./admin/index.ts";
import type { Config } from "./platform/config/index.ts";

/** The admin commands (createTenant, createUser, createApiToken) over a migrated ORM, with the config's tenant defaults. */
export function adminCommands(orm: MikroORM, config: Pick<Config, "defaultTenantQuota">): AdminCommands {
  return makeAdminCommands(orm, config.defaultTenantQuota);
}
