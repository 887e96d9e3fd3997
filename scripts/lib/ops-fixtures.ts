/**
 * What the operations tests (the runbook commands, the backup and restore drill) run the real
 * programs with: the ansible role's templates rendered by ansible itself, a Debian PostgreSQL
 * cluster run like the role's (peer authentication for `postgres`, a password role for the control
 * plane), the control plane as its own process, and table and blob fingerprints to compare.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** The repository's root folder. */
export const repoDir = join(import.meta.dirname, "..", "..");
/** The ansible role whose backup and restore scripts the drill runs. */
export const controlPlaneRoleDir = join(repoDir, "ansible/roles/control_plane");

/** Runs a program to its end; never throws for a non-zero exit. */
export async function runProgram(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", (error) => resolve({ code: -1, stdout, stderr: `${stderr}${error.message}` }));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // A program that never reads its stdin may have exited before the end of it is written.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** Like {@link runProgram}, but a non-zero exit throws with the program's output. */
export async function mustRun(
  command: string,
  args: readonly string[],
  options: Parameters<typeof runProgram>[2] = {},
): Promise<string> {
  const result = await runProgram(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/**
 * Renders one template of the control_plane role with ansible's own template module (the role's
 * defaults, then `vars`), as the role installs it, into `dest` with mode 0755.
 */
export async function renderRoleTemplate(template: string, dest: string, vars: Record<string, unknown>): Promise<void> {
  const varsFile = `${dest}.vars.json`;
  await writeFile(varsFile, JSON.stringify(vars));
  await mustRun(
    "ansible",
    [
      "localhost",
      "-i",
      "localhost,",
      "-c",
      "local",
      "-m",
      "ansible.builtin.template",
      "-a",
      `src=${join(controlPlaneRoleDir, "templates", template)} dest=${dest} mode=0755`,
      "-e",
      `@${join(controlPlaneRoleDir, "defaults/main.yml")}`,
      "-e",
      `@${varsFile}`,
    ],
    { env: { ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "false" } },
  );
}

/** A PostgreSQL cluster of the Debian packages (the version the role installs), run as `postgres`. */
export interface DebianPostgres {
  port: number;
  /** Where its Unix socket is: PGHOST for programs that connect as `postgres` by peer authentication. */
  socketDir: string;
  dataDir: string;
  /** Major version, e.g. 15. */
  version: number;
  /** Runs SQL as `postgres` through the socket (psql -tA); returns the output. */
  psql(sql: string, database?: string): Promise<string>;
  /** What the role does for the control plane: a login role with a password owning an empty database. */
  createAppDatabase(user: string, password: string, database: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * initdb + pg_ctl start of the Debian PostgreSQL whose pg_dump is on PATH (the backup script runs
 * that pg_dump, which must not be older than the server), with the role's authentication: peer for
 * local `postgres`, scram passwords over TCP. `root` must be traversable by `postgres`.
 */
export async function startDebianPostgres(root: string, port: number): Promise<DebianPostgres> {
  const dump = await mustRun("pg_dump", ["--version"]).catch((error: unknown) => {
    throw new Error(`pg_dump is missing: install Debian's postgresql (make test-full does) (${String(error)})`);
  });
  const version = Number(/(\d+)\.\d+/.exec(dump)?.[1]);
  const bin = `/usr/lib/postgresql/${version}/bin`;
  await stat(join(bin, "initdb")).catch(() => {
    throw new Error(`${bin}/initdb is missing: install Debian's postgresql-${version}`);
  });
  const dataDir = join(root, "data");
  const socketDir = join(root, "socket");
  const logDir = join(root, "log");
  for (const dir of [dataDir, socketDir, logDir]) await mkdir(dir, { recursive: true });
  await chmod(root, 0o755);
  await mustRun("chown", ["-R", "postgres:postgres", dataDir, socketDir, logDir]);
  const asPostgres = (program: string, args: string[]) =>
    mustRun("runuser", ["-u", "postgres", "--", join(bin, program), ...args]);
  await asPostgres("initdb", [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth-local=peer",
    "--auth-host=scram-sha-256",
    "--encoding=UTF8",
    "--locale=C.UTF-8",
  ]);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${socketDir} -c fsync=on`;
  await asPostgres("pg_ctl", ["-D", dataDir, "-o", options, "-l", join(logDir, "postgres.log"), "-w", "start"]);
  const psql = (sql: string, database = "postgres") =>
    mustRun("runuser", [
      "-u",
      "postgres",
      "--",
      join(bin, "psql"),
      "-h",
      socketDir,
      "-p",
      String(port),
      "-d",
      database,
      "-v",
      "ON_ERROR_STOP=1",
      "-tAq",
      "-c",
      sql,
    ]);
  return {
    port,
    socketDir,
    dataDir,
    version,
    psql,
    async createAppDatabase(user, password, database) {
      await psql(`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`);
      await psql(`CREATE DATABASE ${database} OWNER ${user} ENCODING 'UTF8'`);
    },
    async stop() {
      await asPostgres("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"]);
    },
  };
}

/** The control plane as its own process (`node control-plane/src/main.ts`, what the systemd unit runs). */
export interface ControlPlaneProcess {
  child: ChildProcess;
  pid: number;
  /** Sends SIGTERM and waits for the exit (graceful shutdown flushes heartbeats). */
  stop(): Promise<void>;
  /** Resolves with the exit code once the process has exited (however it was stopped). */
  exited: Promise<number | null>;
}

/**
 * Starts `node control-plane/src/main.ts` with `env` (DATABASE_URL, ports, blob folder), logging
 * to `logFile`, and waits until `readyUrl` answers 200.
 */
export async function startControlPlaneProcess(options: {
  env: Record<string, string>;
  logFile: string;
  readyUrl: string;
  timeoutMs?: number;
}): Promise<ControlPlaneProcess> {
  const log = createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(process.execPath, [join(repoDir, "control-plane/src/main.ts")], {
    cwd: repoDir,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the control plane exited with ${child.exitCode}; see ${options.logFile}`);
    }
    const ok = await fetch(options.readyUrl).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the control plane was not ready at ${options.readyUrl}; see ${options.logFile}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    child,
    pid: child.pid as number,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Row count and md5 of the rows in a stable order, per table of the public schema. */
export type TableChecksums = Record<string, { rows: number; md5: string }>;

/** Fingerprints every table of `database` (through psql as `postgres`). */
export async function tableChecksums(pg: DebianPostgres, database: string): Promise<TableChecksums> {
  const tables = (await pg.psql("select tablename from pg_tables where schemaname = 'public' order by 1", database))
    .split("\n")
    .filter(Boolean);
  const result: TableChecksums = {};
  for (const table of tables) {
    const line = await pg.psql(
      `select count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from public."${table}" t`,
      database,
    );
    const [rows, md5] = line.trim().split(" ");
    result[table] = { rows: Number(rows), md5: md5 ?? "" };
  }
  return result;
}

/** The sha256 of every file under a blob store's `sha256/` tree, by file name. */
export async function blobDigests(blobDir: string): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  const root = join(blobDir, "sha256");
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(join(entry.parentPath, entry.name), { highWaterMark: 4 << 20 })) {
      hash.update(chunk as Buffer);
    }
    digests.set(entry.name, hash.digest("hex"));
  }
  return digests;
}

/** Bytes a folder's files use on disk (allocated blocks, so holes of sparse files count nothing) and their sizes. */
export async function diskUsage(dir: string): Promise<{ allocatedBytes: number; apparentBytes: number }> {
  const allocated = await exec("du", ["-s", "--block-size=1", dir]);
  const apparent = await exec("du", ["-s", "--block-size=1", "--apparent-size", dir]);
  return {
    allocatedBytes: Number(allocated.stdout.split("\t")[0]),
    apparentBytes: Number(apparent.stdout.split("\t")[0]),
  };
}

/** Reads a file, or "" when it does not exist. */
export async function readIfExists(path: string): Promise<string> {
  return readFile(path, "utf8").catch(() => "");
}
