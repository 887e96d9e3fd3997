export { desiredStateTableDdl, PgDesiredStateStore } from "./pg-desired-state-store.ts";
export { Publisher } from "./publisher.ts";
export { createPublishService } from "./service.ts";
