import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import type { Clock } from "./clock.ts";
import type { Config } from "./config/index.ts";
import { type BlobStore, createFfmpegTools } from "./content/index.ts";
import { createFleetWiring, type FleetWiring } from "./fleet-pg/index.ts";
import type { RateLimitConfig } from "./rate-limit/index.ts";
import { type ControlPlaneServer, createServer } from "./server/server.ts";

/** What {@link assembleControlPlane} needs: a migrated database and the process's side effects. */
export interface ControlPlaneParts {
  config: Config;
  orm: MikroORM;
  blobs: BlobStore;
  logger: Logger;
  clock: Clock;
  /** How often batched heartbeats are written; the fleet wiring's default when unset. */
  heartbeatFlushMs?: number;
  /** Limits of the unauthenticated device registration calls; the fleet's defaults when unset. */
  registrationRateLimits?: RateLimitConfig;
}

/** The whole control plane: the server with the fleet plane on PostgreSQL attached. */
export interface AssembledControlPlane {
  server: ControlPlaneServer;
  fleet: FleetWiring;
  /**
   * Stops in the order that loses nothing: device streams end first (players reconnect elsewhere
   * with jitter), then the listeners drain, then buffered heartbeats are written. The database
   * belongs to the caller and is closed after this.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Wires the control plane the one way main.ts, the demo and the end-to-end tests run it, so a
 * test of the assembled server tests what production runs. Does not listen.
 */
export async function assembleControlPlane(parts: ControlPlaneParts): Promise<AssembledControlPlane> {
  const { config, orm, blobs, logger, clock } = parts;
  const fleet = await createFleetWiring({
    orm,
    blobs,
    logger,
    clock,
    config: config.fleet,
    flushMs: parts.heartbeatFlushMs,
    rateLimits: parts.registrationRateLimits,
  });
  const server = createServer({
    config,
    orm,
    blobs,
    media: createFfmpegTools(config),
    logger,
    clock,
    services: fleet.services,
    httpRoutes: fleet.httpRoutes,
  });
  fleet.attach(server);
  return {
    server,
    fleet,
    async close(graceMs) {
      fleet.endStreams();
      await server.close(graceMs);
      await fleet.close();
    },
  };
}
