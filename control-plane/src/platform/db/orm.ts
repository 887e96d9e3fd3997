import { Migrator } from "@mikro-orm/migrations";
import { MikroORM, type Options } from "@mikro-orm/postgresql";
import pg from "pg";
import { migrations } from "../migrations/index.ts";
import { entities } from "./entities.ts";

/**
 * The fleet's tables: created by the fleet's migrations (src/platform/migrations) and used through
 * plain SQL (src/fleet/pg, src/fleet/publish, src/fleet/update), so no entity describes them and
 * the schema generator must leave them alone. A new fleet table goes here with its migration
 * (test/db/migrations.test.ts fails otherwise: the generator would want to drop it).
 */
export const tablesWithoutEntities: readonly (string | RegExp)[] = [
  "screen_devices",
  "pairing_codes",
  "enrollment_keys",
  "desired_state",
  "screen_status",
  "commands",
  "screenshots",
  "health_samples",
  "play_events",
  "update_releases",
  "update_rollouts",
  "update_rollout_waves",
  "update_rollout_screens",
  "update_screen_events",
  "update_publish_outbox",
  "play_event_late_keys",
  "play_hourly",
  "play_screen_hourly",
  "play_group_clip_hourly",
  "play_group_hourly",
  "play_tenant_hourly",
  "screen_uptime_hourly",
  "uptime_recording",
  "alert_rules",
  "alerts",
  "alert_channels",
  "alert_outbox",
  // Their partitions (src/fleet/report/retention.ts names them), created and dropped at run time.
  /^play_events_d\d{8}$/,
  /^(play_hourly|play_screen_hourly|play_group_clip_hourly|play_group_hourly|play_tenant_hourly|screen_uptime_hourly)_m\d{6}$/,
];

/** Options for {@link createOrm}. */
export interface OrmOptions {
  /** postgres:// URL of the application database. */
  url: string;
  /** Pool size; the default suits one control-plane process. */
  poolMax?: number;
  /** Logs SQL when true (debugging only). */
  debug?: boolean;
}

/**
 * MikroORM configuration: entities defined with `defineEntity`, migrations listed statically
 * (no file discovery, so the same code runs under Node, vitest and the bench).
 */
export function ormConfig(options: OrmOptions): Options {
  return {
    clientUrl: options.url,
    entities,
    extensions: [Migrator],
    baseDir: import.meta.dirname,
    debug: options.debug ?? false,
    pool: { min: 0, max: options.poolMax ?? 20 },
    migrations: {
      migrationsList: migrations,
      snapshot: false,
      snapshotOnMigrate: false,
      silent: true,
      tableName: "mikro_orm_migrations",
    },
    // The schema is owned by migrations; never let a call site create or alter tables implicitly.
    ensureDatabase: false,
    discovery: { warnWhenNoEntities: true },
    // The fleet tables are plain SQL (src/fleet/pg) owned by their migration, not by entities.
    schemaGenerator: { skipTables: [...tablesWithoutEntities] },
  };
}

/** Connects (without touching the schema). Call {@link migrate} before serving. */
export async function createOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(options));
}

/** Advisory-lock key of "migrating the AVTech schema" (any constant no other code of ours locks). */
const migrationLockKey = 0x41565443;

/**
 * Applies every pending migration; returns their names. Control-plane replicas started together
 * on a fresh database would each run the migrations at once and fail on each other's tables, so
 * this holds a PostgreSQL advisory lock on a connection of its own meanwhile: the first replica
 * migrates, the others wait and find nothing left. Ending that connection releases the lock, also
 * when a migration fails.
 */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const lock = new pg.Client({ connectionString: orm.config.get("clientUrl") });
  await lock.connect();
  try {
    await lock.query("SELECT pg_advisory_lock($1)", [migrationLockKey]);
    const applied = await orm.migrator.up();
    return applied.map((m) => m.name);
  } finally {
    await lock.end();
  }
}

export type { MikroORM };
