export type { BlobProblem, BlobReport } from "./blobs.ts";
export { checkBlobs } from "./blobs.ts";
export type { AdminCliContext } from "./cli.ts";
export { adminCommandNames, adminExitCodes, adminUsage, runAdminCli } from "./cli.ts";
export type {
  AdminCommands,
  CreateApiTokenInput,
  CreateTenantInput,
  CreateUserInput,
  SetTenantQuotaInput,
  TenantDefaults,
} from "./commands.ts";
export { AdminCommandError, createAdminCommands } from "./commands.ts";
export { formatAge, parseDuration } from "./duration.ts";
export type {
  AdminActor,
  FleetAdmin,
  FleetAdminDeps,
  PublishStatusReport,
  QueuedCommand,
  RetryReport,
  ScreenCommandKind,
  ScreenDetail,
  ScreenRow,
  ScreenStatusFilter,
  ScreensQuery,
  TenantRow,
} from "./fleet.ts";
export { createFleetAdmin, screenCommandKinds, screenStatusFilters } from "./fleet.ts";
