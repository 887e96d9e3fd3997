import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findFreePort } from "../platform/db/embedded-postgres.ts";
import { readHaproxyTemplate, renderHaproxyConfig } from "./haproxy.ts";
import { type ManagedProcess, startProcess } from "./process.ts";

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** Number of control-plane processes; default 3. */
  replicas?: number;
  /** The database every replica shares; migrated or not (each replica migrates at start, one at a time). */
  databaseUrl: string;
  /** The blob folder every replica shares: one machine, one file store (several machines need S3). */
  blobDir: string;
  /** Where the generated haproxy.cfg and each process's log go. */
  workDir: string;
  /** Address of the replicas and of the balancer's front; default 127.0.0.1. */
  host?: string;
  /** The balancer's port; default 0: a free one. */
  frontPort?: number;
  /** Default /usr/sbin/haproxy (Debian's package). */
  haproxyPath?: string;
  /** Extra environment of every replica (e.g. LOG_LEVEL, AVTECH_HEARTBEAT_INTERVAL_SECONDS). */
  replicaEnv?: Record<string, string>;
  /** How long a replica may take to answer /readyz 200; default 60 s. */
  readyTimeoutMs?: number;
  /**
   * HAProxy processes sharing the front port; default 1. Each costs two descriptors per screen and this
   * machine caps every process at 20,000 (a hard limit nobody here may raise), so one HAProxy holds at most
   * ~9,000 screens. Several bind the same port with SO_REUSEPORT (HAProxy's default on Linux) and the kernel
   * spreads new connections over them by a hash of the addresses; each also listens on a port of its own for
   * its readiness check.
   */
  balancers?: number;
  /**
   * Most streams one replica takes from all balancers together; default 18 000 (a replica is capped at
   * 20 000 descriptors here, like every process). Each balancer process gets an equal share.
   */
  replicaMaxStreams?: number;
  /**
   * Signal every started process gets from the kernel when this process dies (setpriv --pdeathsig), e.g.
   * SIGTERM for a bench that must leave nothing behind even when it is killed. Default: none.
   */
  parentDeathSignal?: NodeJS.Signals;
}

/** One running control-plane process. */
export interface Replica {
  readonly name: string;
  /** h2c gRPC port (what HAProxy sends streams to). */
  readonly port: number;
  /** HTTP/1.1 port: /readyz, /metrics. */
  readonly http1Port: number;
  readonly http1Url: string;
  readonly process: ManagedProcess;
}

/** A running cluster: replicas behind HAProxy. */
export interface Cluster {
  /** Where screens and clients connect (gRPC over h2c, HTTP/1.1 on the same port). */
  readonly frontUrl: string;
  readonly replicas: readonly Replica[];
  /** The first (or only) HAProxy process. */
  readonly haproxy: ManagedProcess;
  /** Every HAProxy process sharing the front port ({@link ClusterOptions.balancers}), `haproxy` first. */
  readonly balancers: readonly ManagedProcess[];
  /**
   * Stops one replica gracefully (SIGTERM: NOT_SERVING, device streams ended, GOAWAY, calls drained)
   * and starts it again on the same ports; resolves once it answers /readyz. `replicas` then lists
   * the new process.
   */
  restartReplica(name: string): Promise<Replica>;
  /** Stops HAProxy and every replica (SIGTERM, then SIGKILL after the grace); nothing is left running. */
  stop(): Promise<void>;
}

const mainScript = new URL("../main.ts", import.meta.url).pathname;

/**
 * Starts `replicas` control-plane processes (control-plane/src/main.ts, as production runs it) on
 * free ports, waits until each answers /readyz, then HAProxy in front of them from
 * haproxy.cfg.template, and waits until the front answers. On any failure everything already
 * started is stopped before the error is thrown.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const host = options.host ?? "127.0.0.1";
  const count = options.replicas ?? 3;
  if (!Number.isInteger(count) || count < 1) throw new Error(`replicas must be a positive integer, got ${count}`);
  const balancerCount = options.balancers ?? 1;
  if (!Number.isInteger(balancerCount) || balancerCount < 1) {
    throw new Error(`balancers must be a positive integer, got ${balancerCount}`);
  }
  const started: ManagedProcess[] = [];
  const stopAll = async () => {
    await Promise.all(started.reverse().map((p) => p.stop()));
  };
  try {
    const startReplica = async (name: string, port: number, http1Port: number): Promise<Replica> => {
      const child = await startProcess(process.execPath, [mainScript], {
        env: {
          ...process.env,
          ...options.replicaEnv,
          DATABASE_URL: options.databaseUrl,
          AVTECH_HOST: host,
          AVTECH_PORT: String(port),
          AVTECH_HTTP1_PORT: String(http1Port),
          AVTECH_BLOB_DIR: options.blobDir,
          // HAProxy dials the replicas from this address: its X-Forwarded-For names the screens.
          AVTECH_TRUSTED_PROXIES: host,
        },
        logFile: join(options.workDir, `${name}.log`),
        ...(options.parentDeathSignal ? { parentDeathSignal: options.parentDeathSignal } : {}),
      });
      started.push(child);
      return { name, port, http1Port, http1Url: `http://${host}:${http1Port}`, process: child };
    };
    const replicas: Replica[] = [];
    for (let n = 1; n <= count; n++) {
      replicas.push(await startReplica(`replica-${n}`, await findFreePort(), await findFreePort()));
    }
    // Started together, waited for together: each replica's start is mostly PostgreSQL round trips.
    const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    await Promise.all(
      replicas.map((r) => waitUntilReady(`${r.http1Url}/readyz`, r.process, readyTimeoutMs, options.workDir, r.name)),
    );

    const frontPort = options.frontPort || (await findFreePort());
    const template = await readHaproxyTemplate();
    const servers = replicas.map((r) => ({ name: r.name, host, port: r.port, checkPort: r.http1Port }));
    const balancers: ManagedProcess[] = [];
    for (let n = 1; n <= balancerCount; n++) {
      // The first keeps the names `make cluster` always used (haproxy.cfg, haproxy.log).
      const name = n === 1 ? "haproxy" : `haproxy-${n}`;
      const ownPort = balancerCount > 1 ? await findFreePort() : undefined;
      const configPath = join(options.workDir, `${name}.cfg`);
      await writeFile(
        configPath,
        renderHaproxyConfig(template, {
          frontHost: host,
          frontPort,
          servers,
          serverMaxconn: Math.floor((options.replicaMaxStreams ?? 18_000) / balancerCount),
          ...(ownPort === undefined ? {} : { ownPort }),
        }),
      );
      // -db: stay in the foreground so this process owns it and SIGTERM stops it.
      const haproxy = await startProcess(options.haproxyPath ?? "/usr/sbin/haproxy", ["-db", "-f", configPath], {
        env: process.env,
        logFile: join(options.workDir, `${name}.log`),
        ...(options.parentDeathSignal ? { parentDeathSignal: options.parentDeathSignal } : {}),
      });
      started.push(haproxy);
      balancers.push(haproxy);
      const checkUrl = `http://${host}:${ownPort ?? frontPort}/readyz`;
      await waitUntilReady(checkUrl, haproxy, readyTimeoutMs, options.workDir, name);
    }
    const frontUrl = `http://${host}:${frontPort}`;
    const haproxy = balancers[0] as ManagedProcess;
    return {
      frontUrl,
      replicas,
      haproxy,
      balancers,
      async restartReplica(name) {
        const index = replicas.findIndex((r) => r.name === name);
        const old = replicas[index];
        if (!old) throw new Error(`no replica named ${name}`);
        await old.process.stop();
        // Same ports: HAProxy's configuration names them, and its checks bring the replica back in.
        const fresh = await startReplica(name, old.port, old.http1Port);
        replicas[index] = fresh;
        await waitUntilReady(`${fresh.http1Url}/readyz`, fresh.process, readyTimeoutMs, options.workDir, name);
        return fresh;
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Polls `url` until it answers 200; fails early when `process` exits, naming its log. */
async function waitUntilReady(
  url: string,
  child: ManagedProcess,
  timeoutMs: number,
  workDir: string,
  name: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!child.running()) throw new Error(`${name} exited while starting: see ${join(workDir, `${name}.log`)}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} did not answer ${url} with 200 within ${timeoutMs} ms: see ${join(workDir, `${name}.log`)}`);
}
