export { desiredStateTableDdl, PgDesiredStateStore } from "./pg-desired-state-store.ts";
export type { PublisherDeps } from "./publisher.ts";
export { Publisher } from "./publisher.ts";
export type { PublishServiceDeps } from "./service.ts";
export { createPublishService, requireTargetsInTenant } from "./service.ts";
