export type {
  AdminCommands,
  CreateApiTokenInput,
  CreateTenantInput,
  CreateUserInput,
  TenantDefaults,
} from "./commands.ts";
export { AdminCommandError, createAdminCommands } from "./commands.ts";
