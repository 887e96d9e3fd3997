export type { AuditEntry, AuditLog, AuditNote } from "./audit.ts";
export { codeName, createAuditInterceptor, createAuditLog, isAudited, newAuditNote, noteAudit } from "./audit.ts";
export { createAuditService } from "./service.ts";
