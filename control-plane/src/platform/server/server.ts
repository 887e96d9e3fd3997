import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import type { ConnectRouter, ContextValues, Interceptor } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import type { Config } from "../config/index.ts";
import type { StreamRouteFactory } from "./grpc-stream-route.ts";
import type { AnyRequest, AnyResponse } from "./http-routes.ts";
import { createProtocolSniffer } from "./protocol-sniffer.ts";
import type { Readiness } from "./readiness.ts";

/**
 * What the server mounts, all of it built by the caller (src/assemble.ts builds the control
 * plane's; a test may mount less). The server builds no service of its own.
 */
export interface ServerDeps {
  /** Where to listen (`listen`, `tls`) and the wire limits (`limits.readMaxBytes`, `limits.maxConcurrentStreams`). */
  config: Pick<Config, "listen" | "tls" | "limits">;
  logger: Logger;
  /** Registers every Connect service the server answers (gRPC, gRPC-Web and the Connect protocol). */
  routes(router: ConnectRouter): void;
  /** Applied to every call, outermost first: by the Connect adapter and by the stream routes alike. */
  interceptors: Interceptor[];
  /**
   * Client- and bidi-streaming methods that plain gRPC clients reach through the lean stream route
   * (see grpc-stream-route.ts) before the Connect adapter; the same methods over gRPC-Web or the
   * Connect protocol still go through `routes`.
   */
  streams?: readonly StreamRouteFactory[];
  /** The values every handler context starts with (e.g. the peer address for rate limits). */
  contextValues: (req: AnyRequest) => ContextValues;
  /** Answers the requests no Connect route takes (plain HTTP routes, then 404). */
  fallback: (req: AnyRequest, res: AnyResponse) => void;
  /** Checked once before listening, so health answers right away; drained (NOT_SERVING) at close. */
  readiness: Pick<Readiness, "check" | "drain">;
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
  /** The HTTP/2 listener (device streams live here), e.g. for a keepalive ping sweep. */
  readonly http2Server: http2.Http2Server | http2.Http2SecureServer;
}

/**
 * Mounts what it is given on Node's HTTP servers: the Connect routes (gRPC, gRPC-Web and Connect
 * protocols) with their interceptors, the lean stream routes, and the HTTP fallback. Never
 * listens on its own.
 *
 * Ports: without TLS, gRPC (HTTP/2 cleartext, "h2c") on `listen.port` and HTTP/1.1 (gRPC-Web,
 * Connect, browsers, /metrics) on `listen.http1Port`: one cleartext port cannot serve both,
 * since HTTP/2 and HTTP/1.1 are negotiated by TLS ALPN. With TLS, one port serves all of it.
 */
export function createServer(deps: ServerDeps): ControlPlaneServer {
  const { config, logger, routes, interceptors, readiness } = deps;
  const limits = config.limits;
  const handler = connectNodeAdapter({
    routes,
    interceptors,
    readMaxBytes: limits.readMaxBytes,
    contextValues: deps.contextValues,
    fallback: deps.fallback as ConnectNodeAdapterOptions["fallback"],
  });

  // Uploads and screens' streams over plain gRPC skip the Connect adapter's per-message pipeline
  // (see grpc-stream-route.ts); every other call, and these over gRPC-Web or Connect, go through it.
  const settings = { interceptors, readMaxBytes: limits.readMaxBytes, contextValues: deps.contextValues, logger };
  const streamRoutes = (deps.streams ?? []).map((route) => route(settings));
  const http2Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    if (!streamRoutes.some((route) => route(req, res))) handler(req, res);
  };

  // HTTP/2's default 64 KiB flow-control windows throttle a streamed upload to a window per round
  // trip. 4 MiB per stream (16 MiB per connection) keeps several 1 MiB chunks in flight, so the
  // sender goes on while this event loop is busy (GC, hashing); a 1 MiB window measured ~0.8x the
  // throughput (control-plane/bench/ingest.bench.ts). What a session may buffer stays bounded by
  // maxSessionMemory.
  const h2Settings: http2.Settings = {
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
          settings: h2Settings,
          maxSessionMemory: 64,
        },
        http2Handler,
      )
    : http2.createServer({ settings: h2Settings, maxSessionMemory: 64 }, http2Handler);
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
