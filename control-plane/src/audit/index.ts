export type { AuditNote } from "./audit.ts";
export { codeName, createAuditInterceptor, noteAudit } from "./audit.ts";
export { createAuditService } from "./service.ts";
