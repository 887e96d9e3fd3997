import type { ServerResponse } from "node:http";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { type Client, createClient, type HandlerContext, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { Registry } from "prom-client";
import { createFleetPlane, type FleetPlane, type FleetPlaneDeps } from "../../src/assemble.ts";
import type { BlobReader } from "../../src/fleet/asset-http/index.ts";
import type { FleetStores, Principal } from "../../src/fleet/fleet/index.ts";
import { loadConfig } from "../../src/platform/config/index.ts";
import { peerContextValues } from "../../src/platform/server/peer.ts";
import { type ControlPlaneServer, createServer } from "../../src/platform/server/server.ts";
import { createMemoryFleetStores, type MemoryFleetStores } from "./fleet-memory-stores.ts";

/** A clock tests move by hand. */
export class ManualClock {
  #now: number;
  constructor(start = Date.parse("2026-03-02T10:00:00Z")) {
    this.#now = start;
  }
  now(): Date {
    return new Date(this.#now);
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

/**
 * Test stand-in for the core's auth: the caller's tenant and role come from `x-test-tenant` and
 * `x-test-role` headers (the real interceptor puts a Principal in a context value).
 */
export function headerPrincipal(context: HandlerContext): Principal {
  return {
    tenantId: context.requestHeader.get("x-test-tenant") ?? "tenant-a",
    role: (context.requestHeader.get("x-test-role") ?? "admin") as Principal["role"],
    actorId: "test-user",
  };
}

/** A running fleet server on real ports (port 0; in-memory stores unless others are given). */
export interface FleetTestServer<S extends FleetStores = MemoryFleetStores> {
  /** The h2c URL (gRPC); HTTP/1.1 on the same port reaches the same routes. */
  baseUrl: string;
  server: ControlPlaneServer;
  plane: FleetPlane;
  stores: S;
  metrics: Registry;
  /** A new gRPC transport (its own HTTP/2 connection) to the server. */
  transport(): Transport;
  device(transport?: Transport): Client<typeof DeviceService>;
  /** FleetService as a user of `tenant` with `role`. */
  fleet(tenant?: string, role?: Principal["role"]): Client<typeof FleetService>;
  publish(tenant?: string, role?: Principal["role"]): Client<typeof PublishService>;
  close(): Promise<void>;
}

/**
 * Starts the fleet plane (src/assemble.ts's createFleetPlane) mounted by the shipped server's
 * createServer: the same lean route for screens' streams, the /assets route, Connect for the rest.
 * It mounts only the fleet side, with no interceptors: the caller is {@link headerPrincipal}
 * unless `principalOf` says otherwise. Pass `stores` to run on other implementations (test/fleet-pg
 * runs these scenarios on PostgreSQL).
 */
export async function startFleetTestServer<S extends FleetStores = MemoryFleetStores>(
  options: Partial<Omit<FleetPlaneDeps, "stores" | "logger" | "metricsRegistry">> & { stores?: S } = {},
): Promise<FleetTestServer<S>> {
  const stores = options.stores ?? (createMemoryFleetStores() as FleetStores as S);
  const metrics = new Registry();
  const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
  const emptyBlobs: BlobReader = {
    stat: async () => undefined,
    open: async () => {
      throw new Error("no blobs in this test");
    },
  };
  const plane = createFleetPlane({
    principalOf: headerPrincipal,
    blobs: emptyBlobs,
    ...options,
    stores,
    logger,
    metricsRegistry: metrics,
  });
  const server = createServer({
    config: loadConfig({ env: {}, overrides: { listen: { host: "127.0.0.1", port: 0, http1Port: 0 } } }),
    logger,
    routes: (router) => plane.routes(router),
    interceptors: [],
    streams: plane.streams,
    contextValues: peerContextValues,
    fallback: (req, res) => {
      void (async () => {
        for (const route of plane.httpRoutes) if (await route(req, res)) return;
        (res as ServerResponse).writeHead(404);
        res.end();
      })();
    },
    readiness: { check: async () => true, drain: () => undefined },
  });
  const { http2Url: baseUrl } = await server.listen();
  const transport = () => createGrpcTransport({ baseUrl });
  const shared = transport();
  const as = (tenant: string, role: string) => ({ "x-test-tenant": tenant, "x-test-role": role });
  const withHeaders = (headers: Record<string, string>): Transport =>
    createGrpcTransport({
      baseUrl,
      interceptors: [
        (next) => (request) => {
          for (const [key, value] of Object.entries(headers)) request.header.set(key, value);
          return next(request);
        },
      ],
    });
  return {
    baseUrl,
    server,
    plane,
    stores,
    metrics,
    transport,
    device: (t = shared) => createClient(DeviceService, t),
    fleet: (tenant = "tenant-a", role = "admin") => createClient(FleetService, withHeaders(as(tenant, role))),
    publish: (tenant = "tenant-a", role = "admin") => createClient(PublishService, withHeaders(as(tenant, role))),
    close: async () => {
      plane.close();
      await server.close(0);
    },
  };
}
