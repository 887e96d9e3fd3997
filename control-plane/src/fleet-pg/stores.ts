import type { MikroORM } from "@mikro-orm/postgresql";
import type pg from "pg";
import type { Logger } from "pino";
import type { FleetStores } from "../fleet/runtime.ts";
import { PgDesiredStateStore } from "../publish/pg-desired-state-store.ts";
import { createDbAssetCatalog, createDbPublishSources } from "../schedule/publish-sources.ts";
import { ClaimTransactions } from "./claims.ts";
import { PgEnrollmentKeyStore, PgPairingStore } from "./pairing.ts";
import { PgCommandStore, PgHealthStore, PgPlayEventStore, PgScreenshotStore } from "./records.ts";
import { PgGroupStore, PgScreenStore } from "./screens.ts";
import { PgScreenStatusStore } from "./status.ts";

/** The fleet stores on PostgreSQL, with the write-behind parts exposed for flushing. */
export interface PgFleetStores extends FleetStores {
  statuses: PgScreenStatusStore;
  health: PgHealthStore;
  /** Writes buffered heartbeats and health samples now. */
  flush(): Promise<void>;
  /**
   * Flushes every `flushMs` (default 3000) until the returned function is called; that
   * function flushes once more (graceful shutdown loses no heartbeat).
   */
  startFlushing(options?: { flushMs?: number }): () => Promise<void>;
  /** Rolls back claims still waiting for their screen. Does not end the pool (the caller owns it). */
  close(): Promise<void>;
}

/**
 * Every fleet port on one `pg` pool (fleet tables, plain SQL) plus the ORM for the core's
 * schedule tables (publish sources, asset catalog).
 */
export function createPgFleetStores(deps: { pool: pg.Pool; orm: MikroORM; logger: Logger }): PgFleetStores {
  const { pool, orm, logger } = deps;
  const claims = new ClaimTransactions();
  const statuses = new PgScreenStatusStore(pool);
  const health = new PgHealthStore(pool);
  const flush = async () => {
    await Promise.all([statuses.flush(), health.flush()]);
  };
  return {
    screens: new PgScreenStore(pool, claims),
    groups: new PgGroupStore(pool),
    pairings: new PgPairingStore(pool, claims),
    enrollmentKeys: new PgEnrollmentKeyStore(pool),
    desiredStates: new PgDesiredStateStore(pool),
    statuses,
    commands: new PgCommandStore(pool),
    screenshots: new PgScreenshotStore(pool),
    health,
    playEvents: new PgPlayEventStore(pool),
    publishSources: createDbPublishSources(orm),
    assets: createDbAssetCatalog(orm),
    flush,
    startFlushing(options = {}) {
      let running: Promise<void> = Promise.resolve();
      const timer = setInterval(() => {
        running = flush().catch((error: unknown) => logger.error({ err: error }, "heartbeat flush failed"));
      }, options.flushMs ?? 3000);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await running;
        await flush().catch((error: unknown) => logger.error({ err: error }, "final heartbeat flush failed"));
      };
    },
    close: () => claims.close(),
  };
}
