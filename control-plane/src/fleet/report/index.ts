export { playCsvHeader, playCsvRows, uptimeCsvHeader, uptimeCsvRows } from "./csv.ts";
export type { ReportRoutesDeps } from "./http-routes.ts";
export { createReportRoutes, playQueryParams, uptimeQueryParams } from "./http-routes.ts";
export type { MaintenanceResult } from "./partitions.ts";
export { ensurePartitions, isMissingPartition, maintainPartitions } from "./partitions.ts";
export { PgReportStore } from "./pg-report-store.ts";
export type {
  Dimension,
  Page,
  PageRequest,
  PlayQuery,
  PlayRow,
  ReportCursor,
  ReportStore,
  ReportWindow,
  ReportZone,
  UptimeQuery,
  UptimeRow,
} from "./ports.ts";
export { UnknownZoneError } from "./ports.ts";
export type { QueryLimits } from "./query.ts";
export {
  defaultPageSize,
  maxFilterIds,
  maxHourlyRangeDays,
  maxPageSize,
  pageFrom,
  pageToken,
  playQueryFrom,
  queryFingerprint,
  uptimeQueryFrom,
  windowFrom,
} from "./query.ts";
export type { EventPlacement, Partition, PartitionPlan, RetentionBounds, RetentionPolicy } from "./retention.ts";
export {
  maxFutureMs,
  parsePartition,
  partitionedTables,
  partitionFor,
  partitionsAheadDays,
  placeEvent,
  planPartitions,
  retentionBounds,
} from "./retention.ts";
export type { ReportDeps, ReportReader, ReportServiceDeps } from "./service.ts";
export { createReportReader, createReportService, exportPageSize } from "./service.ts";
export type { UptimeHour, UptimeState } from "./uptime.ts";
export { UptimeAccumulator, uptimeStateOf } from "./uptime.ts";
