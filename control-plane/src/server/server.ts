import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import { AuditService, file_avtech_auth_v1_audit } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { AuthService, file_avtech_auth_v1_auth } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { file_avtech_auth_v1_user, UserService } from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { ContentService, file_avtech_content_v1_content } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { DeviceService, file_avtech_device_v1_device } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService, file_avtech_fleet_v1_fleet } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { file_avtech_publish_v1_publish, PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { file_avtech_schedule_v1_schedule, ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import type { ConnectRouter, Interceptor, ServiceImpl } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { createAuditInterceptor, createAuditLog, createAuditService } from "../audit/index.ts";
import { createAuthenticateInterceptor, createAuthorizeInterceptor } from "../auth/interceptor.ts";
import { createDbTokenResolver } from "../auth/token-resolver.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/index.ts";
import type { BlobStore } from "../content/blob-store.ts";
import type { MediaTools } from "../content/media.ts";
import { createContentService } from "../content/service.ts";
import { createScopeFactory } from "../db/tenant-scope.ts";
import { peerContextValues } from "../device/context.ts";
import { registerGrpcStandardServices } from "../grpc-std/index.ts";
import { createConsoleStaticRoute, createVideoRoutes } from "../http/index.ts";
import { createScheduleService } from "../schedule/service.ts";
import { createAuthService, createUserService } from "../users/index.ts";
import { createErrorInterceptor } from "./errors.ts";
import { createGrpcStreamRoute } from "./grpc-stream-route.ts";
import { createHttpAccess } from "./http-access.ts";
import { createHttpFallback, type HttpRoute } from "./http-routes.ts";
import { createServerMetrics, type ServerMetrics } from "./metrics.ts";
import { createProtocolSniffer } from "./protocol-sniffer.ts";
import { createReadiness, type Readiness } from "./readiness.ts";
import { unimplementedService } from "./unimplemented.ts";

/** Everything the server needs, built by main.ts (or a test). */
export interface ServerDeps {
  config: Config;
  /** A migrated ORM; the server forks an EntityManager per RPC and does not close it. */
  orm: MikroORM;
  blobs: BlobStore;
  media: MediaTools;
  logger: Logger;
  clock: Clock;
  /** Implementations of the fleet-side services; those left out answer UNIMPLEMENTED. */
  services?: {
    publish?: ServiceImpl<typeof PublishService>;
    fleet?: ServiceImpl<typeof FleetService>;
    device?: ServiceImpl<typeof DeviceService>;
  };
  /** Plain HTTP routes beside Connect (asset downloads), tried before the console's files. */
  httpRoutes?: readonly HttpRoute[];
  /** The built console served under `/`; defaults to control-plane/console/dist. */
  consoleDir?: string;
}

/** Where a started server listens. */
export interface ServerAddresses {
  /** h2c gRPC port (no TLS), or the single TLS port for every protocol. */
  port: number;
  /** HTTP/1.1 port for gRPC-Web, Connect and HTTP routes; undefined with TLS (one port does it all). */
  http1Port: number | undefined;
  /** Base URL for HTTP/1.1 clients (gRPC-Web, Connect, /metrics). */
  http1Url: string;
  /** Base URL for HTTP/2 clients (gRPC). */
  http2Url: string;
}

/** A built, not yet listening control-plane server. */
export interface ControlPlaneServer {
  /** Binds the configured host and ports (port 0 picks free ones). */
  listen(): Promise<ServerAddresses>;
  /** Stops accepting, lets running calls finish for up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
  /** The Connect routes, e.g. for createRouterTransport in tests. */
  routes(router: ConnectRouter): void;
  /** Interceptors in the order the adapter applies them. */
  readonly interceptors: Interceptor[];
  readonly metrics: ServerMetrics;
  readonly readiness: Readiness;
  /** The HTTP/2 listener (device streams live here), e.g. for a keepalive ping sweep. */
  readonly http2Server: http2.Http2Server | http2.Http2SecureServer;
}

/** The generated files whose services this server routes (for reflection). */
export const servedFiles = [
  file_avtech_auth_v1_auth,
  file_avtech_auth_v1_user,
  file_avtech_auth_v1_audit,
  file_avtech_content_v1_content,
  file_avtech_schedule_v1_schedule,
  file_avtech_publish_v1_publish,
  file_avtech_fleet_v1_fleet,
  file_avtech_device_v1_device,
];

/**
 * Builds the control plane: Connect handlers for every AVTech service (gRPC, gRPC-Web and Connect
 * protocols), grpc.health.v1 + reflection, and HTTP routes. Never listens on its own.
 *
 * Ports: without TLS, gRPC (HTTP/2 cleartext, "h2c") on `listen.port` and HTTP/1.1 (gRPC-Web,
 * Connect, browsers, /metrics) on `listen.http1Port`: one cleartext port cannot serve both,
 * since HTTP/2 and HTTP/1.1 are negotiated by TLS ALPN. With TLS, one port serves all of it.
 */
export function createServer(deps: ServerDeps): ControlPlaneServer {
  const { config, orm, logger, clock } = deps;
  const limits = config.limits;
  const scope = createScopeFactory(orm);
  const tokens = createDbTokenResolver(orm, clock, config.sessionTtlHours * 3_600_000);
  const audit = createAuditLog({ orm, clock, logger });
  // The plain HTTP routes take the interceptors' steps with the same resolver and audit log.
  const access = createHttpAccess({ orm, tokens, audit });
  const metrics = createServerMetrics(async () => {
    const [row] = await orm.em
      .getConnection()
      .execute<{ total: string }[]>("select coalesce(sum(size_bytes), 0) as total from videos");
    return Number(row?.total ?? 0);
  });
  const serviceNames = servedFiles.flatMap((file) => file.services.map((s) => s.typeName));
  const readiness = createReadiness(orm, serviceNames);

  const contentService = createContentService({
    scope,
    blobs: deps.blobs,
    media: deps.media,
    limits,
    onUpload: metrics.upload,
  });
  const routes = (router: ConnectRouter): void => {
    router.service(AuthService, createAuthService({ orm, clock, sessionTtlMs: config.sessionTtlHours * 3_600_000 }));
    router.service(UserService, createUserService({ scope, clock }));
    router.service(AuditService, createAuditService({ scope }));
    router.service(ContentService, contentService);
    router.service(ScheduleService, createScheduleService({ scope, clock }));
    router.service(PublishService, deps.services?.publish ?? unimplementedService(PublishService));
    router.service(FleetService, deps.services?.fleet ?? unimplementedService(FleetService));
    router.service(DeviceService, deps.services?.device ?? unimplementedService(DeviceService));
    registerGrpcStandardServices(router, { files: servedFiles, health: readiness.health });
  };

  // Outermost first: metrics see every outcome; errors are normalised before metrics and audit
  // see them; audit runs after authentication (it needs the principal) and before authorisation
  // (so a refused call is recorded too).
  const interceptors: Interceptor[] = [
    metrics.interceptor,
    createErrorInterceptor(logger),
    createAuthenticateInterceptor(tokens),
    createAuditInterceptor(audit),
    createAuthorizeInterceptor(),
  ];
  const handler = connectNodeAdapter({
    routes,
    interceptors,
    readMaxBytes: limits.readMaxBytes,
    contextValues: peerContextValues,
    fallback: createHttpFallback({
      readiness,
      metrics,
      blobs: deps.blobs,
      access,
      logger,
      // The console's video endpoints, then the caller's routes (e.g. /assets/<sha256> for
      // screens), then the console's static files, which answer only for files in dist.
      extra: [
        createVideoRoutes({ ...deps, limits, access, onUpload: metrics.upload }),
        ...(deps.httpRoutes ?? []),
        createConsoleStaticRoute(deps.consoleDir),
      ],
    }) as ConnectNodeAdapterOptions["fallback"],
  });

  // Uploads and screens' streams over plain gRPC skip the Connect adapter's per-message pipeline
  // (see grpc-stream-route.ts); every other call, and these over gRPC-Web or Connect, go through it.
  const shared = { interceptors, readMaxBytes: limits.readMaxBytes, contextValues: peerContextValues, logger };
  const streamRoutes = [
    createGrpcStreamRoute({
      ...shared,
      method: ContentService.method.uploadVideo,
      impl: (requests, context) => contentService.uploadVideo(requests, context),
    }),
  ];
  const deviceService = deps.services?.device;
  if (deviceService) {
    streamRoutes.push(
      createGrpcStreamRoute({
        ...shared,
        method: DeviceService.method.connect,
        impl: (requests, context) => deviceService.connect(requests, context),
      }),
    );
  }
  const http2Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    if (!streamRoutes.some((route) => route(req, res))) handler(req, res);
  };

  // HTTP/2's default 64 KiB flow-control windows throttle a streamed upload to a window per round
  // trip. 4 MiB per stream (16 MiB per connection) keeps several 1 MiB chunks in flight, so the
  // sender goes on while this event loop is busy (GC, hashing); a 1 MiB window measured ~0.8x the
  // throughput (control-plane/bench/ingest.bench.ts). What a session may buffer stays bounded by
  // maxSessionMemory.
  const settings: http2.Settings = {
    maxConcurrentStreams: limits.maxConcurrentStreams,
    initialWindowSize: 4 * 1024 * 1024,
  };
  const tls = config.tls.certFile && config.tls.keyFile ? config.tls : undefined;
  const h2 = tls
    ? http2.createSecureServer(
        {
          cert: readFileSync(tls.certFile as string),
          key: readFileSync(tls.keyFile as string),
          allowHTTP1: true,
          settings,
          maxSessionMemory: 64,
        },
        http2Handler,
      )
    : http2.createServer({ settings, maxSessionMemory: 64 }, http2Handler);
  // Idle sessions (no frames for 5 minutes) are closed; device streams send heartbeats well within that.
  h2.setTimeout(300_000);
  const h1 = tls
    ? undefined
    : http.createServer({ requestTimeout: 300_000, headersTimeout: 30_000, maxHeaderSize: 16 * 1024 }, handler);
  if (h1) h1.keepAliveTimeout = 65_000;
  const front = h1 && !tls ? createProtocolSniffer(h2 as http2.Http2Server, h1) : undefined;

  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    session.setLocalWindowSize(16 * 1024 * 1024);
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  const listenOn = (server: net.Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, config.listen.host, () => {
        server.off("error", reject);
        resolve((server.address() as AddressInfo).port);
      });
    });

  return {
    routes,
    interceptors,
    metrics,
    readiness,
    http2Server: h2,
    async listen() {
      await readiness.check();
      const port = await listenOn(front ?? h2, config.listen.port);
      const http1Port = h1 ? await listenOn(h1, config.listen.http1Port) : undefined;
      const host = config.listen.host === "0.0.0.0" || config.listen.host === "::" ? "127.0.0.1" : config.listen.host;
      const scheme = tls ? "https" : "http";
      const addresses: ServerAddresses = {
        port,
        http1Port,
        http2Url: `${scheme}://${host}:${port}`,
        http1Url: `${scheme}://${host}:${http1Port ?? port}`,
      };
      logger.info({ ...addresses, tls: Boolean(tls) }, "control plane listening");
      return addresses;
    },
    async close(graceMs = 10_000) {
      readiness.drain();
      const closed = Promise.all([
        new Promise<void>((resolve) => (h2.listening ? h2.close(() => resolve()) : resolve())),
        new Promise<void>((resolve) => (front?.listening ? front.close(() => resolve()) : resolve())),
        new Promise<void>((resolve) => (h1?.listening ? h1.close(() => resolve()) : resolve())),
      ]);
      // GOAWAY: clients finish in-flight calls and open no new streams on these sessions.
      for (const session of sessions) session.close();
      h1?.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
        h1?.closeAllConnections();
      }, graceMs);
      await closed;
      clearTimeout(timer);
      logger.info("control plane stopped");
    },
  };
}
