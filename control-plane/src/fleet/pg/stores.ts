import type pg from "pg";
import type { Logger } from "pino";
import type { FleetStores } from "../fleet/ports.ts";
import { PgDesiredStateStore } from "../publish/pg-desired-state-store.ts";
import { PgUpdateStore } from "../update/pg-store.ts";
import { PgEnrollmentKeyStore, PgPairingStore } from "./pairing.ts";
import { PgCommandStore, PgHealthStore, PgPlayEventStore, PgScreenshotStore } from "./records.ts";
import { PgGroupStore, PgScreenStore } from "./screens.ts";
import { PgScreenStatusStore } from "./status.ts";

/** The fleet stores on PostgreSQL, with the write-behind parts exposed for flushing. */
export interface PgFleetStores extends FleetStores {
  pairings: PgPairingStore;
  statuses: PgScreenStatusStore;
  health: PgHealthStore;
  /** The OS update feature's store (src/fleet/update), on the same pool. */
  updates: PgUpdateStore;
  /** Writes buffered heartbeats and health samples now. */
  flush(): Promise<void>;
  /**
   * Flushes every `flushMs` (default 3000) and prunes pairing codes expired for a day (hourly)
   * until the returned function is called; that function flushes once more (graceful shutdown
   * loses no heartbeat).
   */
  startFlushing(options?: { flushMs?: number }): () => Promise<void>;
}

/** What {@link createPgFleetStores} needs. */
export interface PgFleetStoresDeps {
  pool: pg.Pool;
  logger: Logger;
  /**
   * The ports on the core's tables (schedules, playlists, videos), which the core implements:
   * `createDbPublishSources` and `createDbAssetCatalog` in src/core/schedule.
   */
  core: Pick<FleetStores, "publishSources" | "assets">;
}

/** Every fleet port on one `pg` pool (fleet tables, plain SQL), plus the core's two given in `core`. */
export function createPgFleetStores(deps: PgFleetStoresDeps): PgFleetStores {
  const { pool, logger } = deps;
  const statuses = new PgScreenStatusStore(pool);
  const health = new PgHealthStore(pool);
  const pairings = new PgPairingStore(pool);
  const flush = async () => {
    await Promise.all([statuses.flush(), health.flush()]);
  };
  return {
    screens: new PgScreenStore(pool),
    groups: new PgGroupStore(pool),
    pairings,
    enrollmentKeys: new PgEnrollmentKeyStore(pool),
    desiredStates: new PgDesiredStateStore(pool),
    statuses,
    commands: new PgCommandStore(pool),
    screenshots: new PgScreenshotStore(pool),
    health,
    playEvents: new PgPlayEventStore(pool),
    updates: new PgUpdateStore(pool),
    publishSources: deps.core.publishSources,
    assets: deps.core.assets,
    flush,
    startFlushing(options = {}) {
      let running: Promise<void> = Promise.resolve();
      const timer = setInterval(() => {
        running = flush().catch((error: unknown) => logger.error({ err: error }, "heartbeat flush failed"));
      }, options.flushMs ?? 3000);
      timer.unref();
      const pairingTimer = setInterval(() => {
        pairings
          .prune(new Date(Date.now() - 86_400_000))
          .catch((error: unknown) => logger.error({ err: error }, "pairing prune failed"));
      }, 3_600_000);
      pairingTimer.unref();
      return async () => {
        clearInterval(timer);
        clearInterval(pairingTimer);
        await running;
        await flush().catch((error: unknown) => logger.error({ err: error }, "final heartbeat flush failed"));
      };
    },
  };
}
