export { PgEnrollmentKeyStore, PgPairingStore } from "./pairing.ts";
export { PgCommandStore, PgHealthStore, PgPlayEventStore, PgScreenshotStore } from "./records.ts";
export { PgGroupStore, PgScreenStore } from "./screens.ts";
export { isUuid } from "./sql.ts";
export { PgScreenStatusStore } from "./status.ts";
export type { PgFleetStores, PgFleetStoresDeps } from "./stores.ts";
export { createPgFleetStores } from "./stores.ts";
export type { PgFleet, PgFleetDeps, WakeupTarget } from "./wiring.ts";
export { createPgFleet } from "./wiring.ts";
