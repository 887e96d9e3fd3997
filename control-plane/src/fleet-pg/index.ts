export { PgEnrollmentKeyStore, PgPairingStore } from "./pairing.ts";
export { PgCommandStore, PgHealthStore, PgPlayEventStore, PgScreenshotStore } from "./records.ts";
export { PgGroupStore, PgScreenStore } from "./screens.ts";
export { fleetSchemaSkips, isUuid } from "./sql.ts";
export { PgScreenStatusStore } from "./status.ts";
export type { PgFleetStores } from "./stores.ts";
export { createPgFleetStores } from "./stores.ts";
export type { FleetHost, FleetWiring, FleetWiringDeps } from "./wiring.ts";
export { createFleetWiring } from "./wiring.ts";
