import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { type Client, createClient, type HandlerContext, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { Registry } from "prom-client";
import { type BlobReader, createAssetHandler } from "../../src/asset-http/index.ts";
import { peerContextValues } from "../../src/device/index.ts";
import {
  createFleetPlane,
  type FleetPlane,
  type FleetPlaneDeps,
  type FleetStores,
  type Principal,
} from "../../src/fleet/index.ts";
import { createGrpcStreamRoute } from "../../src/server/grpc-stream-route.ts";
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

/** A running fleet server on a real HTTP/2 port 0 (in-memory stores unless others are given). */
export interface FleetTestServer<S extends FleetStores = MemoryFleetStores> {
  baseUrl: string;
  server: http2.Http2Server;
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
 * Starts the fleet plane on `http2.createServer` (h2c), with the /assets handler in front. Pass
 * `stores` to run on other implementations (test/fleet-pg runs these scenarios on PostgreSQL).
 */
export async function startFleetTestServer<S extends FleetStores = MemoryFleetStores>(
  options: Partial<Omit<FleetPlaneDeps, "stores" | "logger" | "metricsRegistry">> & {
    stores?: S;
    blobs?: BlobReader;
  } = {},
): Promise<FleetTestServer<S>> {
  const stores = options.stores ?? (createMemoryFleetStores() as FleetStores as S);
  const metrics = new Registry();
  const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
  const plane = createFleetPlane({ ...options, stores, logger, metricsRegistry: metrics }, headerPrincipal);
  const connect = connectNodeAdapter({ routes: (router) => plane.routes(router), contextValues: peerContextValues });
  const emptyBlobs: BlobReader = {
    stat: async () => undefined,
    open: async () => {
      throw new Error("no blobs in this test");
    },
  };
  const assets = createAssetHandler({
    blobs: options.blobs ?? emptyBlobs,
    screens: stores.screens,
    assets: stores.assets,
    logger,
  });
  // Screens' gRPC streams take the same lean route as in the shipped server (src/server/server.ts).
  const deviceStream = createGrpcStreamRoute({
    method: DeviceService.method.connect,
    impl: (requests, context) => plane.services.device.connect(requests, context),
    interceptors: [],
    readMaxBytes: 4 * 1024 * 1024,
    contextValues: peerContextValues,
    logger,
  });
  const server = http2.createServer((req, res) => {
    if (!deviceStream(req, res) && !assets(req, res)) connect(req, res);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
      server.close();
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}
