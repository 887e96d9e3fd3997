import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type AdminCommands, createAdminCommands } from "../../src/admin/index.ts";
import { assembleControlPlane } from "../../src/assemble.ts";
import { createFsBlobStore } from "../../src/core/content/index.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { type Config, type ConfigInput, loadConfig } from "../../src/platform/config/index.ts";
import { startEmbeddedPostgres } from "../../src/platform/db/embedded-postgres.ts";
import { createOrm, type MikroORM, migrate } from "../../src/platform/db/orm.ts";
import { createLogger } from "../../src/platform/logger.ts";
import type { ServerAddresses } from "../../src/platform/server/server.ts";

/** The control plane exactly as main.ts assembles it, on its own embedded PostgreSQL, for one bench script. */
export interface AssembledBench {
  /** Folder for the bench's own files (removed by close). */
  workDir: string;
  /** PostgreSQL's data folder, for postgresCpuSeconds. */
  pgDataDir: string;
  databaseUrl: string;
  orm: MikroORM;
  config: Config;
  controlPlane: Awaited<ReturnType<typeof assembleControlPlane>>;
  addresses: ServerAddresses;
  admin: AdminCommands;
  /** The tenant `bench`, created with a screen quota of `screens`. */
  tenant: { id: string };
  /** Stops the server and PostgreSQL and removes the work folder. */
  close(): Promise<void>;
}

export interface AssembledBenchOptions {
  /** Prefix of the work folder under os.tmpdir(), e.g. "avtech-fleet-bench-". */
  name: string;
  /** The tenant's screen quota. */
  screens: number;
  /** Config overrides beyond the listen ports, database and blob folder the bench sets. */
  overrides?: ConfigInput;
  /** Lift registration's rate limits: every simulated screen registers from 127.0.0.1. */
  unlimitedRegistration?: boolean;
}

/** Starts PostgreSQL, migrates, assembles and listens on free ports, and creates the tenant `bench`. */
export async function startAssembledBench(options: AssembledBenchOptions): Promise<AssembledBench> {
  const workDir = await mkdtemp(join(tmpdir(), options.name));
  const pgDataDir = join(workDir, "pg");
  const postgres = await startEmbeddedPostgres({ dataDir: pgDataDir });
  const bootstrap = new pg.Client({ connectionString: postgres.url });
  await bootstrap.connect();
  await bootstrap.query("CREATE DATABASE avtech_bench");
  await bootstrap.end();
  const databaseUrl = postgres.url.replace(/\/postgres$/, "/avtech_bench");
  const orm = await createOrm({ url: databaseUrl });
  await migrate(orm);
  const config = loadConfig({
    env: { LOG_LEVEL: "warn" },
    overrides: {
      ...options.overrides,
      listen: { host: "127.0.0.1", port: 0, http1Port: 0 },
      database: { url: databaseUrl },
      blobDir: join(workDir, "blobs"),
    },
  });
  const unlimited = { burst: 1e9, perSecond: 1e9 };
  const controlPlane = await assembleControlPlane({
    config,
    orm,
    blobs: createFsBlobStore(config.blobDir),
    logger: createLogger(config),
    clock: systemClock,
    ...(options.unlimitedRegistration ? { registrationRateLimits: { perIp: unlimited, global: unlimited } } : {}),
  });
  const addresses = await controlPlane.server.listen();
  const admin = createAdminCommands(orm, { storageBytes: 1024 ** 3, screens: options.screens });
  const tenant = await admin.createTenant({ slug: "bench" });
  return {
    workDir,
    pgDataDir,
    databaseUrl,
    orm,
    config,
    controlPlane,
    addresses,
    admin,
    tenant,
    async close() {
      await controlPlane.close(1000);
      await orm.close();
      // pool.end() resolves before PostgreSQL has seen the connections go; stopping it at once makes
      // each closing connection log a termination warning.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await postgres.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
