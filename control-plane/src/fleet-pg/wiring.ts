import type { Http2SecureServer, Http2Server } from "node:http2";
import type { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import type { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import type { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import type { ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Logger } from "pino";
import { Registry } from "prom-client";
import { blobReaderFrom, createAssetHandler } from "../asset-http/index.ts";
import { principalOf } from "../auth/index.ts";
import type { Clock } from "../clock.ts";
import type { BlobStore } from "../content/blob-store.ts";
import { startPingSweep } from "../device/index.ts";
import { createFleetPlane, type FleetConfig, type FleetPlane } from "../fleet/index.ts";
import { PgWakeups } from "../notify/index.ts";
import type { RateLimitConfig } from "../rate-limit/index.ts";
import type { HttpRoute } from "../server/http-routes.ts";
import { createPgFleetStores, type PgFleetStores } from "./stores.ts";

/** What {@link createFleetWiring} needs from the process. */
export interface FleetWiringDeps {
  /** The migrated ORM; its connection URL is reused for the fleet pool and LISTEN/NOTIFY. */
  orm: MikroORM;
  blobs: BlobStore;
  logger: Logger;
  clock: Clock;
  /** Fleet settings (heartbeat interval, pairing TTL, …); defaults in fleet/runtime.ts. */
  config?: Partial<FleetConfig>;
  /** Pool size of the fleet's own `pg` pool; default 10. */
  poolMax?: number;
  /** Heartbeat write-behind period; default 3000 ms. */
  flushMs?: number;
  /** Limits of the unauthenticated Register/CompletePairing calls; default in rate-limit/. */
  rateLimits?: RateLimitConfig;
}

/** The parts of a control-plane server the fleet wiring touches once it exists. */
export interface FleetHost {
  readonly http2Server: Http2Server | Http2SecureServer;
  readonly metrics: { registry: Registry };
}

/** The fleet, device and publish plane on PostgreSQL, ready to hand to `createServer`. */
export interface FleetWiring {
  plane: FleetPlane;
  stores: PgFleetStores;
  /** For `ServerDeps.services`. */
  services: {
    device: ServiceImpl<typeof DeviceService>;
    fleet: ServiceImpl<typeof FleetService>;
    publish: ServiceImpl<typeof PublishService>;
  };
  /** For `ServerDeps.httpRoutes`: GET/HEAD /assets/<sha256> on both listeners. */
  httpRoutes: HttpRoute[];
  /**
   * Starts what needs the built server: fleet metrics on its /metrics registry, the HTTP/2 ping
   * sweep, presence sweep + health retention, and the heartbeat flusher.
   */
  attach(server: FleetHost): void;
  /** Ends every device stream and stops the timers; call before the server closes its listeners. */
  endStreams(): void;
  /** Writes buffered heartbeats, stops LISTEN/NOTIFY and closes the pool; call after the server closed. */
  close(): Promise<void>;
}

/**
 * Builds the fleet plane on the SQL stores and starts its LISTEN/NOTIFY wake-ups (cheap, and
 * what lets several control-plane replicas share one database): a publish on any replica reaches
 * the replica that holds the screen's stream, and after a lost listener connection every held
 * stream is re-checked.
 */
export async function createFleetWiring(deps: FleetWiringDeps): Promise<FleetWiring> {
  const connectionString = deps.orm.config.get("clientUrl");
  if (!connectionString) throw new Error("the fleet plane needs the database URL the ORM connected with");
  const pool = new pg.Pool({ connectionString, max: deps.poolMax ?? 10 });
  pool.on("error", (error) => deps.logger.warn({ err: error }, "idle fleet database connection failed"));
  const stores = createPgFleetStores({ pool, orm: deps.orm, logger: deps.logger });
  // The callbacks run only after wakeups.start() below, when `plane` exists.
  const wakeups = new PgWakeups({
    connectionString,
    logger: deps.logger,
    onWake: (ids) => plane.runtime.delivery.deliver(ids),
    onResync: () => plane.runtime.delivery.deliverAll(),
  });
  const registry = new Registry();
  const plane = createFleetPlane(
    {
      stores,
      logger: deps.logger,
      metricsRegistry: registry,
      clock: deps.clock,
      config: deps.config,
      rateLimits: deps.rateLimits,
      bus: wakeups,
    },
    principalOf,
  );
  await wakeups.start();
  const assets = createAssetHandler({
    blobs: blobReaderFrom(deps.blobs),
    screens: stores.screens,
    assets: stores.assets,
    logger: deps.logger,
  });
  const stops: Array<() => void> = [];
  let stopFlushing: (() => Promise<void>) | undefined;
  return {
    plane,
    stores,
    services: plane.services,
    httpRoutes: [(req, res) => assets(req, res)],
    attach(server) {
      // The plane registers its metrics before the server (and its registry) exists: move them over.
      for (const { name } of registry.getMetricsAsArray()) {
        const metric = registry.getSingleMetric(name);
        if (metric) server.metrics.registry.registerMetric(metric);
      }
      stops.push(startPingSweep(server.http2Server), plane.startBackground());
      stopFlushing = stores.startFlushing({ flushMs: deps.flushMs });
    },
    endStreams() {
      for (const stop of stops.splice(0)) stop();
      plane.close();
    },
    async close() {
      await stopFlushing?.();
      await wakeups.stop();
      await pool.end();
    },
  };
}
