import type pg from "pg";
import type { Logger } from "pino";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { reportSettingDefaults } from "../../platform/config/index.ts";
import type { FleetStores } from "../fleet/ports.ts";
import { PgDesiredStateStore } from "../publish/pg-desired-state-store.ts";
import { type MaintenanceResult, maintainPartitions } from "../report/partitions.ts";
import type { RetentionPolicy } from "../report/retention.ts";
import { PgUpdateStore } from "../update/pg-store.ts";
import { PgEnrollmentKeyStore, PgPairingStore } from "./pairing.ts";
import { PgPlayEventStore } from "./play-events.ts";
import { PgCommandStore, PgHealthStore, PgScreenshotStore } from "./records.ts";
import { PgGroupStore, PgScreenStore } from "./screens.ts";
import { PgScreenStatusStore } from "./status.ts";
import { PgUptimeStore } from "./uptime.ts";

/** The fleet stores on PostgreSQL, with the write-behind parts exposed for flushing. */
export interface PgFleetStores extends FleetStores {
  pairings: PgPairingStore;
  statuses: PgScreenStatusStore;
  health: PgHealthStore;
  playEvents: PgPlayEventStore;
  /** Online time per screen and hour, credited from the heartbeats `statuses` hears of. */
  uptime: PgUptimeStore;
  /** The OS update feature's store (src/fleet/update), on the same pool. */
  updates: PgUpdateStore;
  /** Writes buffered heartbeats, health samples, uptime and play events now. */
  flush(): Promise<void>;
  /**
   * Creates the play-event and rollup partitions due and drops the expired ones (src/fleet/report/partitions.ts);
   * `startFlushing` runs it at once and hourly.
   */
  maintainPartitions(): Promise<MaintenanceResult>;
  /**
   * Flushes every `flushMs` (default 3000), prunes pairing codes expired for a day and maintains
   * the play partitions (hourly) until the returned function is called; that function flushes
   * once more (graceful shutdown loses no heartbeat and no play event).
   */
  startFlushing(options?: { flushMs?: number }): () => Promise<void>;
}

/** Proof-of-play settings of the stores (`reports.*` in the config); the config's defaults when unset. */
export interface PgPlayOptions {
  policy: RetentionPolicy;
  /** How long play events wait to be written together. */
  flushMs: number;
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
  /** Proof of play: retention and batching; `reports.*` defaults when unset. */
  plays?: PgPlayOptions;
  /** Where the play ingest and partition maintenance read the time; default {@link systemClock}. */
  clock?: Clock;
}

/** Every fleet port on one `pg` pool (fleet tables, plain SQL), plus the core's two given in `core`. */
export function createPgFleetStores(deps: PgFleetStoresDeps): PgFleetStores {
  const { pool, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const plays = deps.plays ?? {
    policy: {
      rawRetentionDays: reportSettingDefaults.rawRetentionDays,
      rollupRetentionMonths: reportSettingDefaults.rollupRetentionMonths,
    },
    flushMs: reportSettingDefaults.ingestFlushMs,
  };
  const uptime = new PgUptimeStore(pool, { policy: plays.policy, clock });
  const statuses = new PgScreenStatusStore(pool, uptime);
  const health = new PgHealthStore(pool);
  const pairings = new PgPairingStore(pool);
  const playEvents = new PgPlayEventStore(pool, { policy: plays.policy, flushMs: plays.flushMs, clock, logger });
  const flush = async () => {
    await Promise.all([statuses.flush(), health.flush(), uptime.flush(), playEvents.flush()]);
  };
  const maintain = async () => {
    const result = await maintainPartitions(pool, plays.policy, clock.now());
    if (result.created.length > 0 || result.dropped.length > 0 || result.lateKeysPruned > 0) {
      logger.info(result, "play partitions maintained");
    }
    return result;
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
    playEvents,
    uptime,
    updates: new PgUpdateStore(pool),
    publishSources: deps.core.publishSources,
    assets: deps.core.assets,
    flush,
    maintainPartitions: maintain,
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
      let maintaining = maintain().catch((error: unknown) =>
        logger.error({ err: error }, "partition maintenance failed"),
      );
      const maintenanceTimer = setInterval(() => {
        maintaining = maintain().catch((error: unknown) =>
          logger.error({ err: error }, "partition maintenance failed"),
        );
      }, 3_600_000);
      maintenanceTimer.unref();
      return async () => {
        clearInterval(timer);
        clearInterval(pairingTimer);
        clearInterval(maintenanceTimer);
        await running;
        await maintaining;
        await flush().catch((error: unknown) => {
          logger.error({ err: error }, "final heartbeat flush failed");
          // The streams waiting for these play events end with the error; their players resend nothing (already sent).
          playEvents.failPending(error);
        });
      };
    },
  };
}
