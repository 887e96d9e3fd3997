import type { MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Logger } from "pino";
import type { Clock } from "../../platform/clock.ts";
import type { FleetStores } from "../fleet/ports.ts";
import { PgWakeups } from "../notify/index.ts";
import { createPgFleetStores, type PgFleetStores, type PgPlayOptions } from "./stores.ts";

/** What {@link createPgFleet} needs from the process. */
export interface PgFleetDeps {
  /** The migrated ORM; its connection URL is reused for the fleet pool and LISTEN/NOTIFY. */
  orm: MikroORM;
  logger: Logger;
  /** The ports on the core's tables (see {@link createPgFleetStores}). */
  core: Pick<FleetStores, "publishSources" | "assets">;
  /** Pool size of the fleet's own `pg` pool; default 10. */
  poolMax?: number;
  /** Proof-of-play retention and batching (see {@link createPgFleetStores}). */
  plays?: PgPlayOptions;
  clock?: Clock;
}

/** Where wake-ups from other processes go: the delivery to the streams this process holds. */
export interface WakeupTarget {
  deliver(screenIds: readonly string[]): Promise<void>;
  /** Re-checks every held stream (after a lost listener connection, when notifications were missed). */
  deliverAll(): Promise<void>;
}

/** The fleet side on PostgreSQL: every fleet store on its own pool, and LISTEN/NOTIFY between replicas. */
export interface PgFleet {
  stores: PgFleetStores;
  /** The fleet's pool, for the other plain-SQL readers of the fleet's tables (src/fleet/report). */
  pool: pg.Pool;
  /** NOTIFY: carries wake-ups to the other control-plane processes (the fleet plane's bus). */
  bus: { notify(screenIds: readonly string[]): Promise<void> };
  /**
   * Starts the background work: LISTEN, handing other processes' wake-ups to `target` (and a full
   * re-check after every (re)connect), and the heartbeat write-behind every `flushMs` (default 3000).
   * Resolves once listening.
   */
  start(options: { target: WakeupTarget; flushMs?: number }): Promise<void>;
  /** Writes buffered heartbeats, stops LISTEN/NOTIFY and closes the pool; call after the server closed. */
  close(): Promise<void>;
}

/**
 * Opens the fleet's pool and stores, and prepares its LISTEN/NOTIFY wake-ups (cheap, and what lets
 * several control-plane replicas share one database): a publish on any replica reaches the replica
 * that holds the screen's stream, and after a lost listener connection every held stream is
 * re-checked. The services on these stores are built by src/assemble.ts.
 */
export function createPgFleet(deps: PgFleetDeps): PgFleet {
  const connectionString = deps.orm.config.get("clientUrl");
  if (!connectionString) throw new Error("the fleet plane needs the database URL the ORM connected with");
  const pool = new pg.Pool({ connectionString, max: deps.poolMax ?? 10 });
  pool.on("error", (error) => deps.logger.warn({ err: error }, "idle fleet database connection failed"));
  const stores = createPgFleetStores({
    pool,
    logger: deps.logger,
    core: deps.core,
    plays: deps.plays,
    clock: deps.clock,
  });
  // The callbacks run only after start(), which sets the target.
  let target: WakeupTarget | undefined;
  const wakeups = new PgWakeups({
    connectionString,
    logger: deps.logger,
    onWake: (ids) => target?.deliver(ids),
    onResync: () => target?.deliverAll(),
  });
  let stopFlushing: (() => Promise<void>) | undefined;
  return {
    stores,
    pool,
    bus: wakeups,
    async start(options) {
      target = options.target;
      await wakeups.start();
      stopFlushing = stores.startFlushing({ flushMs: options.flushMs });
    },
    async close() {
      await stopFlushing?.();
      await wakeups.stop();
      await pool.end();
    },
  };
}
