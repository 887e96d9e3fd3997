/**
 * The one place the control plane is put together: every service (auth and users, audit, content,
 * schedule, publish, fleet, device, OS updates, report, grpc health and reflection), every plain HTTP route, the
 * interceptors, and the server that mounts them. Alerts (src/fleet/alert) are built here too, with their engine. Each service factory gets the few dependencies it
 * names in its own `…Deps` interface; `createServer` (src/platform/server) only mounts what it is given.
 *
 * main.ts runs {@link assembleControlPlane}; so do the demo (through main.ts), the end-to-end tests
 * and the fleet benchmark. Tests that need less go through the same building functions:
 * {@link buildControlPlaneServer} without a fleet side (the core's tests, the content benchmarks),
 * {@link createFleetPlane} on in-memory stores (test/lib/fleet-server.ts).
 */

import { accessSync, constants as fsConstants } from "node:fs";
import { AlertService, file_avtech_alert_v1_alert } from "@avtech/proto/gen/avtech/alert/v1/alert_pb.js";
import { AuditService, file_avtech_auth_v1_audit } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { AuthService, file_avtech_auth_v1_auth } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { file_avtech_auth_v1_user, UserService } from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { ContentService, file_avtech_content_v1_content } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { DeviceService, file_avtech_device_v1_device } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService, file_avtech_fleet_v1_fleet } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { file_avtech_publish_v1_publish, PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { file_avtech_report_v1_report, ReportService } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { file_avtech_schedule_v1_schedule, ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { file_avtech_update_v1_update, UpdateService } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import type { ConnectRouter, Interceptor, ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type BlobStore, createContentService, createFfmpegTools, createVideoRoutes } from "./core/content/index.ts";
import {
  createDbAssetCatalog,
  createDbContentNames,
  createDbPublishSources,
  createScheduleService,
} from "./core/schedule/index.ts";
import { createAuthService, createUserService } from "./core/users/index.ts";
import {
  AlertEngine,
  createAlertMetrics,
  createAlertService,
  createSenders,
  createSmtpMailer,
  type Mailer,
  PgAlertStore,
} from "./fleet/alert/index.ts";
import { type AssetRedirect, type BlobReader, blobReaderFrom, createAssetHandler } from "./fleet/asset-http/index.ts";
import { createDeviceService, LiveDelivery, startPingSweep } from "./fleet/device/index.ts";
import {
  createFleetMetrics,
  createFleetService,
  defaultFleetConfig,
  defaultHealthRetentionMs,
  FleetBroadcaster,
  type FleetConfig,
  type FleetStores,
  loadScreenViews,
  Presence,
  type PrincipalOf,
} from "./fleet/fleet/index.ts";
import { SessionRegistry } from "./fleet/live/index.ts";
import { createPgFleet, type PgFleetStores } from "./fleet/pg/index.ts";
import { createPublishService, Publisher } from "./fleet/publish/index.ts";
import { createReportReader, createReportRoutes, createReportService, PgReportStore } from "./fleet/report/index.ts";
import {
  type BundleVerifier,
  createBundleRoute,
  createRaucVerifier,
  createReleaseUploadRoute,
  createUpdateService,
  RolloutEngine,
  type UpdateStore,
} from "./fleet/update/index.ts";
import { createAuditInterceptor, createAuditLog, createAuditService } from "./platform/audit/index.ts";
import { principalOf } from "./platform/auth/index.ts";
import { createAuthenticateInterceptor, createAuthorizeInterceptor } from "./platform/auth/interceptor.ts";
import { createDbTokenResolver } from "./platform/auth/token-resolver.ts";
import { type Clock, systemClock } from "./platform/clock.ts";
import type { Config } from "./platform/config/index.ts";
import { createScopeFactory } from "./platform/db/tenant-scope.ts";
import { registerGrpcStandardServices } from "./platform/grpc-std/index.ts";
import { createConsoleStaticRoute } from "./platform/http/index.ts";
import { type RateLimitConfig, RequestLimiter } from "./platform/rate-limit/index.ts";
import { createErrorInterceptor } from "./platform/server/errors.ts";
import { type StreamRouteFactory, streamRoute } from "./platform/server/grpc-stream-route.ts";
import { createHttpAccess, type HttpAccess } from "./platform/server/http-access.ts";
import {
  type AnyRequest,
  type AnyResponse,
  createHttpFallback,
  type HttpRoute,
} from "./platform/server/http-routes.ts";
import { createServerMetrics, type ServerMetrics, type TenantTotals } from "./platform/server/metrics.ts";
import { createPeerContextValues } from "./platform/server/peer.ts";
import { createReadiness } from "./platform/server/readiness.ts";
import { type ControlPlaneServer, createServer } from "./platform/server/server.ts";
import { unimplementedService } from "./platform/server/unimplemented.ts";

/** The generated files whose services the control plane serves (reflection describes them, health reports each). */
export const servedFiles = [
  file_avtech_auth_v1_auth,
  file_avtech_auth_v1_user,
  file_avtech_auth_v1_audit,
  file_avtech_content_v1_content,
  file_avtech_schedule_v1_schedule,
  file_avtech_publish_v1_publish,
  file_avtech_fleet_v1_fleet,
  file_avtech_device_v1_device,
  file_avtech_report_v1_report,
  file_avtech_update_v1_update,
  file_avtech_alert_v1_alert,
];

/** What {@link assembleControlPlane} needs: a migrated database and the process's side effects. */
export interface ControlPlaneParts {
  config: Config;
  orm: MikroORM;
  blobs: BlobStore;
  /**
   * Pre-signed URLs of the S3 store (`openAssetUrlSigner`): when given, a screen's GET /assets/<sha256> is
   * answered with a redirect to one after the usual device-token and tenant checks. Default none: the
   * replica serves the bytes.
   */
  assetUrls?: AssetRedirect;
  logger: Logger;
  clock: Clock;
  /** How often batched heartbeats are written; the fleet stores' default (3 s) when unset. */
  heartbeatFlushMs?: number;
  /** Limits of the unauthenticated device registration calls; `config.registrationLimits` when unset. */
  registrationRateLimits?: RateLimitConfig;
}

/** The whole control plane, built and not yet listening. */
export interface AssembledControlPlane {
  server: ControlPlaneServer;
  /** The fleet side: its in-process parts (held streams, presence, live view) and its PostgreSQL stores. */
  fleet: { plane: FleetPlane; stores: PgFleetStores };
  /** The alert engine, already running every `alerts.evaluateEverySeconds` (tests may also call it directly). */
  alerts: AlertEngine;
  /**
   * Stops in the order that loses nothing: device streams end first (players reconnect elsewhere
   * with jitter), then the listeners drain, then buffered heartbeats are written. The database
   * belongs to the caller and is closed after this.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Builds the control plane the one way main.ts, the demo and the end-to-end tests run it, so a
 * test of the assembled server tests what production runs: the fleet side on PostgreSQL (with
 * LISTEN/NOTIFY between replicas) and the core, mounted on one server. Does not listen.
 */
export async function assembleControlPlane(parts: ControlPlaneParts): Promise<AssembledControlPlane> {
  const { config, orm, blobs, logger, clock } = parts;
  const metrics = createServerMetrics(() => tenantTotals(orm));
  const database = createPgFleet({
    orm,
    logger,
    core: { publishSources: createDbPublishSources(orm), assets: createDbAssetCatalog(orm) },
    plays: {
      policy: {
        rawRetentionDays: config.reports.rawRetentionDays,
        rollupRetentionMonths: config.reports.rollupRetentionMonths,
      },
      flushMs: config.reports.ingestFlushMs,
    },
    clock,
  });
  const fleet = createFleetPlane({
    stores: database.stores,
    blobs: blobReaderFrom(blobs),
    ...(parts.assetUrls ? { assetUrls: parts.assetUrls } : {}),
    logger,
    clock,
    metricsRegistry: metrics.registry,
    config: config.fleet,
    rateLimits: parts.registrationRateLimits ?? config.registrationLimits,
    bus: database.bus,
    principalOf,
    update: {
      store: database.stores.updates,
      blobs,
      verifier: bundleVerifier(config),
      compatible: config.update.compatible,
      maxBundleBytes: config.limits.maxBundleBytes,
    },
  });
  try {
    await database.start({ target: fleet.delivery, flushMs: parts.heartbeatFlushMs });
  } catch (error) {
    fleet.close();
    await database.close().catch(() => undefined);
    throw error;
  }
  const reader = createReportReader({
    store: new PgReportStore(database.pool),
    names: createDbContentNames(orm),
    clock,
    limits: { maxRangeDays: config.reports.maxRangeDays },
  });
  const reports: ReportMount = {
    service: createReportService({ reader, principalOf }),
    httpRoute: (access) => createReportRoutes({ reader, access, logger }),
  };
  const alertStore = new PgAlertStore(database.pool);
  const { alerts: alertConfig } = config;
  const mailer: Mailer | undefined =
    alertConfig.smtp.url === undefined
      ? undefined
      : createSmtpMailer({
          url: alertConfig.smtp.url,
          from: alertConfig.smtp.from,
          timeoutMs: alertConfig.deliveryTimeoutSeconds * 1000,
        });
  const alerts = new AlertEngine({
    store: alertStore,
    senders: createSenders({ clock, mailer }),
    clock,
    logger,
    metrics: createAlertMetrics(metrics.registry, () => alertStore.backlog()),
    settings: {
      groupWindowMs: alertConfig.groupWindowSeconds * 1000,
      groupMinAlerts: alertConfig.groupMinAlerts,
      maxPerMinute: alertConfig.maxNotificationsPerMinute,
      retry: {
        maxAttempts: alertConfig.maxAttempts,
        baseMs: alertConfig.retryBaseSeconds * 1000,
        maxMs: alertConfig.retryMaxSeconds * 1000,
      },
      deliveryTimeoutMs: alertConfig.deliveryTimeoutSeconds * 1000,
    },
  });
  const alertService = createAlertService({
    store: alertStore,
    clock,
    principalOf,
    emailConfigured: mailer !== undefined,
  });
  const server = buildControlPlaneServer({ ...parts, metrics }, { ...fleet, reports, alerts: alertService });
  const stops = [
    startPingSweep(server.http2Server),
    fleet.startBackground(),
    alerts.start(alertConfig.evaluateEverySeconds * 1000),
  ];
  return {
    server,
    fleet: { plane: fleet, stores: database.stores },
    alerts,
    async close(graceMs) {
      for (const stop of stops.splice(0)) stop();
      fleet.close();
      await server.close(graceMs);
      mailer?.close();
      await database.close();
    },
  };
}

/**
 * The checker of uploaded bundles, when `update.keyringPath` is set; a keyring the process cannot
 * read stops the start (a misconfiguration found at the first upload would be found too late).
 */
function bundleVerifier(config: Config): BundleVerifier | undefined {
  const { keyringPath, raucPath } = config.update;
  if (!keyringPath) return undefined;
  try {
    accessSync(keyringPath, fsConstants.R_OK);
  } catch (error) {
    throw new Error(`update.keyringPath ${keyringPath} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  return createRaucVerifier({ raucPath, keyringPath });
}

/** What the core services need. */
export interface CoreParts {
  config: Config;
  /** A migrated ORM; services fork an EntityManager per RPC and never close it. */
  orm: MikroORM;
  blobs: BlobStore;
  logger: Logger;
  clock: Clock;
  /** The server's metrics, when the fleet side registered on them first; new ones when unset. */
  metrics?: ServerMetrics;
  /** The built console served under `/`; defaults to control-plane/console/dist. */
  consoleDir?: string;
}

/** The fleet-side service implementations. */
export interface FleetServices {
  device: ServiceImpl<typeof DeviceService>;
  fleet: ServiceImpl<typeof FleetService>;
  publish: ServiceImpl<typeof PublishService>;
  /** UNIMPLEMENTED when the plane was built without {@link FleetPlaneDeps.update}. */
  update: ServiceImpl<typeof UpdateService>;
}

/** What the fleet side mounts on the server beside the core. */
export interface FleetMount {
  services: FleetServices;
  /** The screens' Connect stream over plain gRPC (the lean route). */
  streams: readonly StreamRouteFactory[];
  /** GET/HEAD /assets/<sha256> (and /bundles/<sha256>) for screens. */
  httpRoutes: readonly HttpRoute[];
  /** Routes for people, run through the server's {@link HttpAccess} (POST /v1/releases). */
  accessRoutes(access: HttpAccess): readonly HttpRoute[];
  /** ReportService and its CSV routes (on PostgreSQL only); UNIMPLEMENTED when absent. */
  reports?: ReportMount;
  /** AlertService (on PostgreSQL only); UNIMPLEMENTED when absent. */
  alerts?: ServiceImpl<typeof AlertService>;
}

/** The proof-of-play reports (src/fleet/report): the service, and its CSV routes behind the core's access checks. */
export interface ReportMount {
  service: ServiceImpl<typeof ReportService>;
  /** GET /v1/reports/plays.csv and /v1/reports/uptime.csv, run as the export RPCs through `access`. */
  httpRoute(access: HttpAccess): HttpRoute;
}

/**
 * Builds the core services (auth and users, audit, content, schedule, grpc health and
 * reflection), the interceptors and the plain HTTP routes, and mounts them with `fleet`'s on one
 * server. Without `fleet`, PublishService, FleetService and DeviceService answer UNIMPLEMENTED.
 */
export function buildControlPlaneServer(parts: CoreParts, fleet?: FleetMount): ControlPlaneServer {
  const { config, orm, blobs, logger, clock } = parts;
  const limits = config.limits;
  const metrics = parts.metrics ?? createServerMetrics(() => tenantTotals(orm));
  const scope = createScopeFactory(orm);
  const sessionTtlMs = config.sessionTtlHours * 3_600_000;
  const tokens = createDbTokenResolver(orm, clock, sessionTtlMs);
  const auditLog = createAuditLog({ orm, clock, logger });
  // The plain HTTP routes take the interceptors' steps with the same resolver and audit log.
  const access = createHttpAccess({ orm, tokens, audit: auditLog });
  const media = createFfmpegTools(config);
  const readiness = createReadiness(
    orm,
    servedFiles.flatMap((file) => file.services.map((s) => s.typeName)),
  );

  const content = createContentService({ scope, blobs, media, limits, onUpload: metrics.upload });
  const auth = createAuthService({ orm, clock, sessionTtlMs });
  const users = createUserService({ scope, clock });
  const audit = createAuditService({ scope });
  const schedule = createScheduleService({ scope, clock });
  const routes = (router: ConnectRouter): void => {
    router.service(AuthService, auth);
    router.service(UserService, users);
    router.service(AuditService, audit);
    router.service(ContentService, content);
    router.service(ScheduleService, schedule);
    router.service(PublishService, fleet?.services.publish ?? unimplementedService(PublishService));
    router.service(FleetService, fleet?.services.fleet ?? unimplementedService(FleetService));
    router.service(DeviceService, fleet?.services.device ?? unimplementedService(DeviceService));
    router.service(UpdateService, fleet?.services.update ?? unimplementedService(UpdateService));
    router.service(ReportService, fleet?.reports?.service ?? unimplementedService(ReportService));
    router.service(AlertService, fleet?.alerts ?? unimplementedService(AlertService));
    registerGrpcStandardServices(router, { files: servedFiles, health: readiness.health });
  };

  // Outermost first: metrics see every outcome; errors are normalised before metrics and audit
  // see them; audit runs after authentication (it needs the principal) and before authorisation
  // (so a refused call is recorded too).
  const interceptors: Interceptor[] = [
    metrics.interceptor,
    createErrorInterceptor(logger),
    createAuthenticateInterceptor(tokens),
    createAuditInterceptor(auditLog),
    createAuthorizeInterceptor(),
  ];
  const fallback = createHttpFallback({
    readiness,
    metrics,
    logger,
    // The console's video endpoints (upload, file, thumbnail), then the fleet's routes (/assets/<sha256> for screens), then
    // the console's static files, which answer only for files in dist.
    extra: [
      createVideoRoutes({ blobs, media, limits, access, logger, onUpload: metrics.upload }),
      ...(fleet?.accessRoutes(access) ?? []),
      ...(fleet?.httpRoutes ?? []),
      ...(fleet?.reports ? [fleet.reports.httpRoute(access)] : []),
      createConsoleStaticRoute(parts.consoleDir),
    ],
  });
  return createServer({
    config,
    logger,
    routes,
    interceptors,
    streams: [
      streamRoute({
        method: ContentService.method.uploadVideo,
        impl: (requests, context) => content.uploadVideo(requests, context),
      }),
      ...(fleet?.streams ?? []),
    ],
    contextValues: createPeerContextValues(config.listen.trustedProxies),
    fallback,
    readiness,
  });
}

/** Carries wake-ups to the other control-plane processes (LISTEN/NOTIFY); see src/fleet/notify. */
export interface WakeupBus {
  notify(screenIds: readonly string[]): Promise<void>;
}

/** What {@link createFleetPlane} needs; everything with a side effect is passed in. */
export interface FleetPlaneDeps {
  stores: FleetStores;
  /** Where /assets/<sha256> reads the bytes. */
  blobs: BlobReader;
  /** When given, /assets/<sha256> GETs redirect to these pre-signed URLs instead of sending the bytes. */
  assetUrls?: AssetRedirect;
  logger: Logger;
  /** Where the fleet's metrics are registered (the server's /metrics registry). */
  metricsRegistry: Registry;
  /** Default {@link systemClock}. */
  clock?: Clock;
  /** Overrides of {@link defaultFleetConfig}. */
  config?: Partial<FleetConfig>;
  rateLimits?: RateLimitConfig;
  /** Absent with a single process. */
  bus?: WakeupBus;
  /** Live-view batching; default 250 ms. */
  broadcastFlushMs?: number;
  /** How FleetService and PublishService learn their caller (the core's auth: `principalOf`). */
  principalOf: PrincipalOf;
  /** OS updates (src/fleet/update); without it UpdateService answers UNIMPLEMENTED and no document carries an OsUpdate. */
  update?: UpdatePlaneDeps;
}

/** What the OS update feature needs beside the fleet's stores. */
export interface UpdatePlaneDeps {
  store: UpdateStore;
  /** Where uploaded bundles are kept (the content blob store); the bundle route reads them from `blobs`. */
  blobs: BlobStore;
  /** Checks uploads; undefined refuses every upload (no `update.keyringPath`). */
  verifier: BundleVerifier | undefined;
  /** `update.compatible`; undefined refuses every upload. */
  compatible: string | undefined;
  maxBundleBytes: number;
}

/** The fleet, device, publish and update side of one control-plane process. */
export interface FleetPlane extends FleetMount {
  /** Registers DeviceService, FleetService, PublishService and UpdateService on a Connect router. */
  routes(router: ConnectRouter): void;
  /** The screens' streams this process holds. */
  readonly registry: SessionRegistry;
  /** Brings held streams up to date (LISTEN/NOTIFY wake-ups are handed to it). */
  readonly delivery: LiveDelivery;
  /** The console's live view (WatchFleet). */
  readonly broadcaster: FleetBroadcaster;
  /** Online/offline of the held streams. */
  readonly presence: Presence;
  /** Drives OS update rollouts; undefined without {@link FleetPlaneDeps.update}. */
  readonly rollouts: RolloutEngine | undefined;
  /**
   * Runs the periodic jobs: presence sweep (every 5 s), health retention (7 days, pruned hourly)
   * and, with OS updates, rollout recovery (at once, then every 30 s: unfinished rollouts
   * re-evaluated, pending desired states published).
   */
  startBackground(options?: {
    presenceSweepMs?: number;
    healthRetentionMs?: number;
    pruneEveryMs?: number;
    rolloutRecoveryMs?: number;
  }): () => void;
  /** Ends every stream and the live view (graceful shutdown). */
  close(): void;
}

/**
 * Builds the fleet side on any implementation of the store ports: the in-process parts one
 * process shares (held streams, delivery, presence, live view, metrics, registration limit), then
 * DeviceService, FleetService and PublishService, each given only what its `…Deps` names, and the
 * /assets route.
 */
export function createFleetPlane(deps: FleetPlaneDeps): FleetPlane {
  const { stores, logger, principalOf } = deps;
  const clock = deps.clock ?? systemClock;
  const config = { ...defaultFleetConfig, ...deps.config };
  const metrics = createFleetMetrics(deps.metricsRegistry);
  const registry = new SessionRegistry();
  const broadcaster = new FleetBroadcaster(
    (tenantId, ids) => loadScreenViews(stores, tenantId, ids, clock.now()),
    deps.broadcastFlushMs,
  );
  const presence = new Presence(clock, (tenantId, screenId) => broadcaster.changed(tenantId, screenId), metrics);
  const delivery = new LiveDelivery({
    registry,
    screens: stores.screens,
    desiredStates: stores.desiredStates,
    commands: stores.commands,
    clock,
  });
  // Here first (the stream may be held by this process), then every other process.
  const wake = async (screenIds: readonly string[]) => {
    await delivery.deliver(screenIds);
    await deps.bus?.notify(screenIds);
  };
  const { update } = deps;
  const publisher = new Publisher({
    stores,
    config,
    clock,
    logger,
    delivery,
    broadcaster,
    wake,
    offers: update?.store,
  });
  const rollouts = update && new RolloutEngine({ store: update.store, publisher, clock, logger });
  const ingest = update && {
    blobs: update.blobs,
    store: update.store,
    verifier: update.verifier,
    compatible: update.compatible,
    maxBundleBytes: update.maxBundleBytes,
    clock,
  };

  const services: FleetServices = {
    device: createDeviceService({
      stores,
      config,
      clock,
      logger,
      registry,
      delivery,
      presence,
      broadcaster,
      metrics,
      registrationLimiter: new RequestLimiter(deps.rateLimits, () => clock.now().getTime()),
      updates: rollouts && {
        hello: (screen) => rollouts.hello(screen),
        report: (screen, report) => rollouts.report(screen, report),
      },
    }),
    fleet: createFleetService({ stores, config, clock, logger, registry, broadcaster, wake, principalOf }),
    publish: createPublishService({ publisher, stores, clock, principalOf }),
    update:
      update && rollouts && ingest
        ? createUpdateService({
            store: update.store,
            engine: rollouts,
            ingest,
            stores,
            deleteBlob: (sha256) => update.blobs.delete(sha256),
            clock,
            logger,
            principalOf,
          })
        : unimplementedService(UpdateService),
  };
  const assets = createAssetHandler({
    blobs: deps.blobs,
    ...(deps.assetUrls ? { redirect: deps.assetUrls } : {}),
    screens: stores.screens,
    assets: stores.assets,
    logger,
  });
  const bundles =
    update && createBundleRoute({ blobs: deps.blobs, screens: stores.screens, store: update.store, logger });
  return {
    services,
    streams: [
      streamRoute({
        method: DeviceService.method.connect,
        impl: (requests, context) => services.device.connect(requests, context),
      }),
      ...(update
        ? [
            streamRoute({
              method: UpdateService.method.uploadRelease,
              impl: (requests, context) => services.update.uploadRelease(requests, context),
            }),
          ]
        : []),
    ],
    httpRoutes: [
      (req, res) => assets(req, res),
      ...(bundles ? [(req: AnyRequest, res: AnyResponse) => bundles(req, res)] : []),
    ],
    accessRoutes: (access) => (ingest ? [createReleaseUploadRoute({ ingest, access, logger })] : []),
    registry,
    delivery,
    broadcaster,
    presence,
    rollouts,
    routes(router) {
      router.service(DeviceService, services.device);
      router.service(FleetService, services.fleet);
      router.service(PublishService, services.publish);
      router.service(UpdateService, services.update);
    },
    startBackground(options = {}) {
      const presenceTimer = setInterval(() => presence.sweep(), options.presenceSweepMs ?? 5000);
      const retention = options.healthRetentionMs ?? defaultHealthRetentionMs;
      const pruneTimer = setInterval(() => {
        const before = new Date(clock.now().getTime() - retention);
        stores.health.prune(before).catch((error: unknown) => logger.error({ err: error }, "health prune failed"));
      }, options.pruneEveryMs ?? 3_600_000);
      presenceTimer.unref();
      pruneTimer.unref();
      const stopRollouts = rollouts?.start({ everyMs: options.rolloutRecoveryMs });
      return () => {
        clearInterval(presenceTimer);
        clearInterval(pruneTimer);
        stopRollouts?.();
      };
    },
    close() {
      registry.closeAll();
      broadcaster.close();
    },
  };
}

/** Each tenant's stored video bytes and screens: the per-tenant gauges, read at scrape time. */
async function tenantTotals(orm: MikroORM): Promise<TenantTotals[]> {
  const rows = await orm.em
    .getConnection()
    .execute<{ slug: string; stored_bytes: string; storage_quota_bytes: string; screens: string }[]>(
      `select t.slug, t.storage_quota_bytes,
            coalesce((select sum(v.size_bytes) from videos v where v.tenant_id = t.id), 0) as stored_bytes,
            (select count(*) from screens s where s.tenant_id = t.id) as screens
       from tenants t`,
    );
  return rows.map((row) => ({
    tenant: row.slug,
    storedBytes: Number(row.stored_bytes),
    storageQuotaBytes: Number(row.storage_quota_bytes),
    screens: Number(row.screens),
  }));
}
