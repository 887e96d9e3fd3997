/**
 * Proof-of-play ingest on the product as shipped: assembleControlPlane on an embedded PostgreSQL
 * under os.tmpdir(), N simulated screens (the @avtech/fleet-sim workspace, in a child process)
 * holding real device streams, heartbeating every 15 s and, once told, playing 10-second clips and
 * sending their play events every 60 s as the player does. 10,000 screens make 1,000 events/s.
 *
 * Measures, over a window after every screen has sent at least one batch: events stored per second,
 * server CPU per event (all of it, and beyond the same screens' heartbeats measured before the
 * plays started), PostgreSQL CPU per event, rows PostgreSQL wrote per second in the play tables
 * (inserted + updated, from pg_stat_user_tables), and the ingest's statements per second.
 *
 * Env: AVTECH_BENCH_SCREENS (default 10000), AVTECH_BENCH_CLIP_MS (10000), AVTECH_BENCH_BATCH_MS
 * (60000), AVTECH_BENCH_SECONDS (60: the measured window), AVTECH_BENCH_FLUSH_MS (the config's
 * reports.ingestFlushMs; default its default).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import pg from "pg";
import { reportMetrics } from "../../bench/metric.ts";
import { bearerToken } from "../src/platform/auth/bearer.ts";
import { startAssembledBench } from "./lib/assembled-bench.ts";
import { postgresCpuSeconds, processCpuSeconds } from "./lib/proc-cpu.ts";

const screens = Number(process.env.AVTECH_BENCH_SCREENS ?? 10_000);
const clipMs = Number(process.env.AVTECH_BENCH_CLIP_MS ?? 10_000);
const batchMs = Number(process.env.AVTECH_BENCH_BATCH_MS ?? 60_000);
const windowSeconds = Number(process.env.AVTECH_BENCH_SECONDS ?? 60);
const flushMs = process.env.AVTECH_BENCH_FLUSH_MS ? Number(process.env.AVTECH_BENCH_FLUSH_MS) : undefined;
const targetRate = (screens * 1000) / clipMs;

const bench = await startAssembledBench({
  name: "avtech-plays-bench-",
  screens,
  unlimitedRegistration: true,
  overrides: flushMs === undefined ? {} : { reports: { ingestFlushMs: flushMs } },
});
const { pgDataDir, databaseUrl, config, controlPlane, addresses, admin, tenant } = bench;
const { secret: adminToken } = await admin.createApiToken({ tenant: "bench", name: "bench", role: "admin" });
const sessions = new Http2SessionManager(addresses.http2Url);
const fleetClient = createClient(
  FleetService,
  createGrpcTransport({
    baseUrl: addresses.http2Url,
    sessionManager: sessions,
    interceptors: [bearerToken(adminToken)],
  }),
);
const { enrollmentKey } = await fleetClient.createEnrollmentKey({ name: "bench" });

const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
// One playlist of ten clips, as ScheduleService would store them (so the ids are real ones).
const playlistId = randomUUID();
await db.query(
  "INSERT INTO playlists (id, tenant_id, name, created_at, updated_at) VALUES ($1, $2, 'bench', now(), now())",
  [playlistId, tenant.id],
);
const clips = [];
for (let n = 0; n < 10; n++) {
  const videoId = randomUUID();
  const sha256 = n.toString(16).padStart(64, "0");
  await db.query(
    `INSERT INTO videos (id, tenant_id, sha256, size_bytes, duration_ms, codec, width, height, name, original_name,
                         content_type, created_by, created_at)
     VALUES ($1, $2, $3, 1000000, $4, 'h264', 1920, 1080, $5, 'clip.mp4', 'video/mp4', 'bench', now())`,
    [videoId, tenant.id, sha256, clipMs, `clip ${n}`],
  );
  clips.push({ videoId, playlistId, sha256 });
}
/** Rows inserted and updated so far in the play tables (all partitions). */
const rowsWritten = async () => {
  await db.query("SELECT pg_stat_force_next_flush()").catch(() => undefined);
  const { rows } = await db.query<{ n: string }>(
    `SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0) AS n FROM pg_stat_user_tables
      WHERE relname ~ '^play_'`,
  );
  return Number(rows[0]?.n ?? 0);
};

console.log(`starting ${screens} simulated screens (${clipMs / 1000} s clips, a batch every ${batchMs / 1000} s)`);
const child = spawn(
  "bash",
  [
    "-c",
    'ulimit -n 65536 2>/dev/null || true; exec "$0" "$@"',
    process.execPath,
    "control-plane/bench/fleet-sim-child.ts",
    addresses.http2Url,
    enrollmentKey,
    String(screens),
    "1",
    "lean",
    JSON.stringify({ clips, clipMs, batchMs }),
  ],
  { cwd: new URL("../..", import.meta.url).pathname, stdio: ["pipe", "pipe", "inherit"] },
);
const shutdown = async () => {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
  sessions.abort();
  await db.end();
  await bench.close();
};
const lines = createInterface({ input: child.stdout });
const ready = await new Promise<{ connected: number; ms: number }>((resolve, reject) => {
  lines.once("line", (line) => resolve(JSON.parse(line) as { connected: number; ms: number }));
  child.once("exit", (code) => reject(new Error(`simulator exited with ${code} before connecting`)));
}).catch(async (error: unknown) => {
  await shutdown();
  throw error;
});
console.log(`all ${ready.connected} screens enrolled and connected in ${ready.ms} ms`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
await sleep(5000);

interface Sample {
  at: number;
  server: number;
  postgres: number;
  simulator: number;
  rows: number;
  writes: number;
  events: number;
  fresh: number;
  writeMs: number;
}
const store = controlPlane.fleet.stores.playEvents;
const sample = async (): Promise<Sample> => {
  const cpu = process.cpuUsage();
  return {
    at: performance.now(),
    server: (cpu.user + cpu.system) / 1e6,
    postgres: await postgresCpuSeconds(pgDataDir),
    simulator: await processCpuSeconds(child.pid ?? 0),
    rows: await rowsWritten(),
    ...store.stats,
  };
};

const baselineSeconds = 30;
console.log(`baseline: ${baselineSeconds} s of heartbeats only`);
const base0 = await sample();
await sleep(baselineSeconds * 1000);
const base1 = await sample();
const baselineServerPerSecond = (base1.server - base0.server) / ((base1.at - base0.at) / 1000);

child.stdin.write("plays\n");
console.log(`plays started; warming up for ${batchMs / 1000 + 5} s (every screen sends its first batch)`);
await sleep(batchMs + 5000);
console.log(`measuring ${windowSeconds} s`);
const s0 = await sample();
await sleep(windowSeconds * 1000);
const s1 = await sample();
await shutdown();

const seconds = (s1.at - s0.at) / 1000;
const events = s1.fresh - s0.fresh;
const serverCpu = s1.server - s0.server;
const marginalServerCpu = serverCpu - baselineServerPerSecond * seconds;
const note = `${screens} screens, ${clipMs / 1000} s clips, batches every ${batchMs / 1000} s, ${seconds.toFixed(0)} s window, flush ${config.reports.ingestFlushMs} ms`;
console.log(
  `${events} events in ${seconds.toFixed(1)} s (${(events / seconds).toFixed(0)}/s), ${s1.writes - s0.writes} statements ` +
    `(mean ${((s1.writeMs - s0.writeMs) / Math.max(1, s1.writes - s0.writes)).toFixed(1)} ms), ` +
    `CPU: server ${serverCpu.toFixed(1)} s (heartbeats alone ${(baselineServerPerSecond * seconds).toFixed(1)} s), ` +
    `PostgreSQL ${(s1.postgres - s0.postgres).toFixed(1)} s, simulator ${(s1.simulator - s0.simulator).toFixed(1)} s; ` +
    `rows written ${s1.rows - s0.rows}`,
);
reportMetrics([
  {
    name: "control-plane.plays.ingest_events_per_second",
    value: events / seconds,
    unit: "events/s",
    goal: `>= ${targetRate.toFixed(0)} sustained (${note})`,
  },
  {
    name: "control-plane.plays.server_cpu_per_event",
    value: (serverCpu * 1e6) / events,
    unit: "us",
    goal: `all server CPU in the window (heartbeats of the same screens included) per event (${note})`,
  },
  {
    name: "control-plane.plays.server_cpu_per_event_beyond_heartbeats",
    value: (marginalServerCpu * 1e6) / events,
    unit: "us",
    goal: `server CPU beyond the heartbeat-only baseline, per event (${note})`,
  },
  {
    name: "control-plane.plays.postgres_cpu_per_event",
    value: ((s1.postgres - s0.postgres) * 1e6) / events,
    unit: "us",
    goal: `PostgreSQL CPU per event, heartbeat flushes included (${note})`,
  },
  {
    name: "control-plane.plays.rows_written_per_second",
    value: (s1.rows - s0.rows) / seconds,
    unit: "rows/s",
    goal: `rows inserted + updated in the raw events, late keys and the three play rollups (${note})`,
  },
  {
    name: "control-plane.plays.statements_per_second",
    value: (s1.writes - s0.writes) / seconds,
    unit: "statements/s",
    goal: `ingest statements (one per batch of gathered messages) (${note})`,
  },
  {
    name: "control-plane.plays.statement_ms_mean",
    value: (s1.writeMs - s0.writeMs) / Math.max(1, s1.writes - s0.writes),
    unit: "ms",
    goal: `mean time of one ingest statement (${note})`,
  },
]);
process.exit(0);
