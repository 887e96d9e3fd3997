import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { openDatabase, prepareBlobDir } from "../app.ts";
import { ConfigError, loadConfig } from "../platform/config/index.ts";
import { createLogger } from "../platform/logger.ts";
import { startCluster } from "./launcher.ts";

/**
 * `make cluster`: opens the database as one control plane would (DATABASE_URL, or the embedded
 * PostgreSQL in .data/postgres as `make demo` starts it), migrates it once, then starts
 * `--replicas` (default 3) control-plane processes behind HAProxy (`--balancers` processes sharing
 * the port, default 1) on `--port` (default 8090) and
 * prints the front address. SIGINT/SIGTERM stop HAProxy, the replicas and the embedded
 * PostgreSQL, in that order.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      replicas: { type: "string", default: "3" },
      // HAProxy processes sharing the port (SO_REUSEPORT): one carries ~9,000 screens under the 20,000-descriptor cap.
      balancers: { type: "string", default: "1" },
      port: { type: "string", default: "8090" },
      "work-dir": { type: "string", default: ".data/cluster" },
    },
  });
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
  const replicas = Number(values.replicas);
  const frontPort = Number(values.port);
  const balancers = Number(values.balancers);
  if (
    !Number.isInteger(replicas) ||
    replicas < 1 ||
    !Number.isInteger(balancers) ||
    balancers < 1 ||
    !Number.isInteger(frontPort) ||
    frontPort < 0
  ) {
    process.stderr.write("usage: cluster [--replicas N ≥ 1] [--balancers N ≥ 1] [--port P] [--work-dir DIR]\n");
    process.exit(2);
  }
  const logger = createLogger(config);
  const workDir = resolve(values["work-dir"]);
  await mkdir(workDir, { recursive: true });
  const database = await openDatabase(config, logger);
  // The replicas need the URL, not this process's connections.
  await database.orm.close();
  const cluster = await startCluster({
    replicas,
    balancers,
    frontPort,
    databaseUrl: database.url,
    blobDir: await prepareBlobDir(config),
    workDir,
    replicaEnv: { LOG_LEVEL: config.logLevel },
  }).catch(async (error: unknown) => {
    await database.close();
    throw error;
  });
  process.stdout.write(
    `${replicas} control planes behind ${balancers} HAProxy process(es) at ${cluster.frontUrl} (gRPC h2c and HTTP/1.1); ` +
      `replicas: ${cluster.replicas.map((r) => r.http1Url).join(", ")}; logs in ${workDir}. Ctrl-C stops all.\n`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping the cluster");
    await cluster.stop();
    await database.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  // A replica or HAProxy dying on its own is reported, not hidden: the rest keeps serving.
  for (const child of [...cluster.balancers, ...cluster.replicas.map((r) => r.process)]) {
    void child.exited.then((exit) => {
      if (!stopping) logger.warn({ pid: child.pid, ...exit }, "a cluster process exited");
    });
  }
}

await main();
