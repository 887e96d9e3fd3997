import { openDatabase, prepareBlobDir } from "./app.ts";
import { systemClock } from "./clock.ts";
import { ConfigError, loadConfig } from "./config/index.ts";
import { createFfmpegTools, createFsBlobStore } from "./content/index.ts";
import { createFleetWiring } from "./fleet-pg/index.ts";
import { createLogger } from "./logger.ts";
import { createServer } from "./server/server.ts";

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
  const blobs = createFsBlobStore(await prepareBlobDir(config));
  const fleet = await createFleetWiring({ orm: database.orm, blobs, logger, clock: systemClock });
  const server = createServer({
    config,
    orm: database.orm,
    blobs,
    media: createFfmpegTools(config),
    logger,
    clock: systemClock,
    services: fleet.services,
    httpRoutes: fleet.httpRoutes,
  });
  fleet.attach(server);
  await server.listen();
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    // Device streams end first (players reconnect elsewhere with jitter), then the listeners
    // drain, then buffered heartbeats are written before the database goes.
    fleet.endStreams();
    await server.close();
    await fleet.close();
    await database.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

await main();
