import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Logger } from "pino";
import {
  type BlobStore,
  type BlobUrlSigner,
  createFsBlobStore,
  createS3BlobStore,
  createS3UrlSigner,
  type S3Connection,
} from "./core/content/index.ts";
import type { Clock } from "./platform/clock.ts";
import type { Config } from "./platform/config/index.ts";
import { startEmbeddedPostgres } from "./platform/db/embedded-postgres.ts";
import { createOrm, type MikroORM, migrate } from "./platform/db/orm.ts";

/** A migrated database connection, plus the embedded PostgreSQL when the config asked for one. */
export interface OpenDatabase {
  orm: MikroORM;
  /** Where the migrated database is (the embedded one's `avtech` database when it was started here). */
  url: string;
  /** Closes the ORM, then stops the embedded PostgreSQL if this process started it. */
  close(): Promise<void>;
}

/**
 * Connects to `database.url`, or starts the embedded PostgreSQL in `database.embeddedDataDir`
 * (created on first start), and applies pending migrations.
 */
export async function openDatabase(config: Config, logger: Logger): Promise<OpenDatabase> {
  let url = config.database.url;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) {
    const dataDir = resolve(config.database.embeddedDataDir);
    logger.info({ dataDir }, "starting embedded PostgreSQL (set DATABASE_URL to use your own server)");
    const pg = await startEmbeddedPostgres({ dataDir, onLog: (line) => logger.debug({ postgres: line }) });
    stopEmbedded = pg.stop;
    url = await ensureAppDatabase(pg.url);
  }
  const orm = await createOrm({ url });
  const applied = await migrate(orm);
  if (applied.length > 0) logger.info({ migrations: applied }, "applied migrations");
  return {
    orm,
    url,
    async close() {
      await orm.close();
      await stopEmbedded?.();
    },
  };
}

/** The embedded server's `avtech` database (created once), so data never lives in `postgres`. */
async function ensureAppDatabase(adminUrl: string): Promise<string> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query("select 1 from pg_database where datname = 'avtech'");
    if (exists.rowCount === 0) await client.query("create database avtech");
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = "/avtech";
  return url.toString();
}

/** Creates the blob folder (and its tmp folder) so the first upload does not race on mkdir. */
export async function prepareBlobDir(config: Config): Promise<string> {
  const dir = resolve(config.blobDir);
  await mkdir(resolve(dir, "tmp"), { recursive: true });
  return dir;
}

/** The blob store `blobStore.kind` names: the file store in blobDir, or the S3 bucket (temp files in blobDir/tmp). */
export async function openBlobStore(config: Config): Promise<BlobStore> {
  const dir = await prepareBlobDir(config);
  const settings = config.blobStore;
  if (settings.kind === "file") return createFsBlobStore(dir);
  return createS3BlobStore({ ...s3Connection(settings), tempDir: resolve(dir, "tmp") });
}

/**
 * The signer of pre-signed asset URLs when `blobStore.presign` is set (S3 store only), signing with
 * `clock`'s time; undefined otherwise (screens' downloads go through the replicas).
 */
export function openAssetUrlSigner(config: Config, clock: Clock): BlobUrlSigner | undefined {
  const settings = config.blobStore;
  if (settings.kind !== "s3" || settings.presign === undefined) return undefined;
  const { expiresSeconds, publicBaseUrl } = settings.presign;
  return createS3UrlSigner(s3Connection(settings), {
    expiresSeconds,
    ...(publicBaseUrl ? { publicBaseUrl } : {}),
    now: () => clock.now(),
  });
}

function s3Connection(settings: Extract<Config["blobStore"], { kind: "s3" }>): S3Connection {
  return {
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    region: settings.region,
    bucket: settings.bucket,
    ...(settings.accessKeyId ? { accessKeyId: settings.accessKeyId } : {}),
    ...(settings.secretAccessKey ? { secretAccessKey: settings.secretAccessKey } : {}),
    forcePathStyle: settings.forcePathStyle,
  };
}
