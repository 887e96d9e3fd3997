import { openAssetUrlSigner, openBlobStore, openDatabase } from "./app.ts";
import { assembleControlPlane } from "./assemble.ts";
import { systemClock } from "./platform/clock.ts";
import { ConfigError, loadConfig } from "./platform/config/index.ts";
import { createLogger } from "./platform/logger.ts";

/**
 * The control-plane process: config → database (migrated) → fleet plane → server → listen;
 * SIGINT/SIGTERM end device streams, drain calls, close the server, the fleet pool, the ORM and
 * the embedded PostgreSQL.
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config);
  const database = await openDatabase(config, logger);
  const blobs = await openBlobStore(config);
  const controlPlane = await assembleControlPlane({
    config,
    orm: database.orm,
    blobs,
    assetUrls: openAssetUrlSigner(config, systemClock),
    logger,
    clock: systemClock,
  });
  await controlPlane.server.listen();
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    await controlPlane.close();
    await database.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

await main();
