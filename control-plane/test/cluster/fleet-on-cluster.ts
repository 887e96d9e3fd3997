/**
 * A real cluster for the cluster's full tests: a migrated database on the run's PostgreSQL,
 * `replicas` control-plane processes behind HAProxy (src/cluster), one tenant with an admin
 * token, and `screens` simulated screens (player/sim) enrolled and streaming through the
 * balancer, one HTTP/2 connection each like real players.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FleetSimulator, type ReconnectPolicy, type SimulatedPlays, startFleetSimulator } from "@avtech/fleet-sim";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import pg from "pg";
import { createAdminCommands } from "../../src/admin/index.ts";
import { type Cluster, startCluster } from "../../src/cluster/index.ts";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { createOrm, migrate } from "../../src/platform/db/orm.ts";
import { setRoundContent } from "../lib/round-content.ts";
import { createTestDatabase } from "../lib/test-database.ts";

/** A running cluster with a simulated fleet on it. */
export interface FleetOnCluster {
  cluster: Cluster;
  sim: FleetSimulator;
  /** Clients of the balancer's front (gRPC over h2c), so each call may land on any replica. */
  fleet: Client<typeof FleetService>;
  publish: Client<typeof PublishService>;
  content: Client<typeof ContentService>;
  screenIds: string[];
  /** The one tenant's id. */
  tenantId: string;
  /** The blob folder the replicas share (with an S3 store: only upload temp files in tmp/). */
  blobDir: string;
  /** The device streams each replica holds, from its /metrics (in `cluster.replicas` order; 0 when it is down). */
  streamsPerReplica(): Promise<number[]>;
  /** Gives the tenant's default playlist a new clip, so the next Publish changes every screen's document. */
  changeContent(round: number): Promise<void>;
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** HAProxy's log lines that mark a replica DOWN or UP, e.g. to explain an uneven spread. */
  balancerEvents(): Promise<string[]>;
  /** The lines of every replica's log (JSON, pino) that carry `msg` (e.g. to count failed writes). */
  replicaLogLines(msg: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Starts the cluster and the fleet; everything started is stopped again if a step fails. */
export async function startFleetOnCluster(options: {
  replicas: number;
  screens: number;
  reconnect?: Partial<ReconnectPolicy>;
  /** Extra environment of every replica, e.g. an S3 blob store. */
  replicaEnv?: Record<string, string>;
  /** A PostgreSQL of the test's own (one it restarts); default the run's (globalSetup). */
  postgresAdminUrl?: string;
  /** The tenant's screen quota; default `screens` (more when real players join too). */
  screenQuota?: number;
  /** The simulator's stream kind; "lean" costs the shared CPU less for large fleets. Default "connect". */
  streams?: "connect" | "lean";
  /** Proof of play the screens send once `sim.startPlays()` is called; none by default. */
  plays?: SimulatedPlays;
}): Promise<FleetOnCluster> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const database = await createTestDatabase(options.postgresAdminUrl);
    cleanups.push(() => database.drop());
    // The ORM only migrates and makes the tenant: closed at once, so a test that restarts PostgreSQL
    // does not see its idle connections die.
    const orm = await createOrm({ url: database.url, poolMax: 2 });
    const { tenant, secret } = await (async () => {
      try {
        await migrate(orm);
        const admin = createAdminCommands(orm, {
          storageBytes: 1024 ** 3,
          screens: options.screenQuota ?? options.screens,
        });
        const created = await admin.createTenant({ slug: "cluster" });
        const token = await admin.createApiToken({ tenant: "cluster", name: "cluster test", role: "admin" });
        return { tenant: created, secret: token.secret };
      } finally {
        await orm.close();
      }
    })();
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    // An idle connection that PostgreSQL ends (a test restarting it) is replaced on the next query.
    pool.on("error", () => undefined);
    cleanups.push(() => pool.end());

    const workDir = await mkdtemp(join(tmpdir(), "avtech-cluster-"));
    cleanups.push(() => rm(workDir, { recursive: true, force: true }));
    const blobDir = join(workDir, "blobs");
    const cluster = await startCluster({
      replicas: options.replicas,
      databaseUrl: database.url,
      blobDir,
      workDir,
      replicaEnv: {
        LOG_LEVEL: "warn",
        // Every simulated screen runs on this one machine (one address): let the global bucket be the limit.
        AVTECH_REGISTRATION_PER_IP_BURST: "500",
        AVTECH_REGISTRATION_PER_IP_PER_SECOND: "100",
        ...options.replicaEnv,
      },
    });
    cleanups.push(() => cluster.stop());

    const sessions = new Http2SessionManager(cluster.frontUrl);
    cleanups.push(async () => sessions.abort());
    const transport = createGrpcTransport({
      baseUrl: cluster.frontUrl,
      sessionManager: sessions,
      interceptors: [bearerToken(secret)],
    });
    const fleet = createClient(FleetService, transport);
    const publish = createClient(PublishService, transport);
    const content = createClient(ContentService, transport);
    const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "cluster test" });

    const sim = await startFleetSimulator({
      baseUrl: cluster.frontUrl,
      count: options.screens,
      enrollmentKey,
      streamsPerConnection: 1,
      ...(options.reconnect ? { reconnect: options.reconnect } : {}),
      ...(options.streams ? { streams: options.streams } : {}),
      ...(options.plays ? { plays: options.plays } : {}),
    });
    cleanups.push(() => sim.stop());
    await sim.whenConnected(120_000);

    const query = async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) =>
      (await pool.query<R>(sql, params)).rows;
    const screenIds = (
      await query<{ id: string }>("SELECT id FROM screens WHERE tenant_id = $1 ORDER BY id", [tenant.id])
    ).map((row) => row.id);
    return {
      cluster,
      sim,
      fleet,
      publish,
      content,
      screenIds,
      tenantId: tenant.id,
      blobDir,
      query,
      balancerEvents: async () =>
        (await readFile(join(workDir, "haproxy.log"), "utf8"))
          .split("\n")
          .filter((line) => line.startsWith("[WARNING]") && / is (DOWN|UP)/.test(line)),
      replicaLogLines: async (msg) => {
        const texts = await Promise.all(
          cluster.replicas.map((r) => readFile(join(workDir, `${r.name}.log`), "utf8").catch(() => "")),
        );
        const needle = JSON.stringify(msg);
        return texts.flatMap((text) => text.split("\n")).filter((line) => line.includes(`"msg":${needle}`));
      },
      streamsPerReplica: () => Promise.all(cluster.replicas.map((r) => deviceStreams(r.http1Url))),
      changeContent: (round) => setRoundContent(pool, tenant.id, round),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `avtech_device_streams` from a replica's /metrics; 0 when the replica does not answer. */
async function deviceStreams(http1Url: string): Promise<number> {
  const text = await fetch(`${http1Url}/metrics`, { signal: AbortSignal.timeout(2000) }).then(
    (response) => response.text(),
    () => "",
  );
  const line = text.split("\n").find((l) => l.startsWith("avtech_device_streams "));
  return line ? Number(line.split(" ")[1]) : 0;
}

/** Polls `check` every 100 ms until it is true; throws `describe()` after `timeoutMs`. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  describe: () => Promise<string> | string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(await describe());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
