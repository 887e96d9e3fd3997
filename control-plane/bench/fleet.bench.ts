/**
 * Fleet benchmark: the fleet plane (DeviceService/PublishService) in this process on a real
 * HTTP/2 port with IN-MEMORY stores (the database layer is not wired yet), N simulated screens
 * (default 5000, AVTECH_BENCH_SCREENS) in a child process holding real Connect streams, one
 * HTTP/2 connection per screen unless AVTECH_BENCH_STREAMS_PER_CONNECTION says otherwise.
 * Measures server RSS per stream and publish-to-all-acked latency over 5 publishes that change
 * every screen's document.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import pino from "pino";
import { Registry } from "prom-client";
import { reportMetrics } from "../../bench/metric.ts";
import { peerContextValues, startPingSweep } from "../src/device/index.ts";
import { createFleetPlane } from "../src/fleet/index.ts";
import { hashSecret } from "../src/pairing/index.ts";
import { Publisher } from "../src/publish/index.ts";
import { createMemoryFleetStores } from "../test/lib/fleet-memory-stores.ts";

const screens = Number(process.env.AVTECH_BENCH_SCREENS ?? 5000);
const streamsPerConnection = Number(process.env.AVTECH_BENCH_STREAMS_PER_CONNECTION ?? 1);
const publishes = 5;
const tenantId = "bench-tenant";

const stores = createMemoryFleetStores({ interleave: false });
const unlimited = { burst: 1e9, perSecond: 1e9 };
const plane = createFleetPlane(
  {
    stores,
    logger: pino({ level: "warn" }),
    metricsRegistry: new Registry(),
    rateLimits: { perIp: unlimited, global: unlimited },
  },
  () => ({ tenantId, role: "admin", actorId: "bench" }),
);
const server = http2.createServer(
  { settings: { maxConcurrentStreams: 1000 } },
  connectNodeAdapter({ routes: (router) => plane.routes(router), contextValues: peerContextValues }),
);
const stopSweep = startPingSweep(server);
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const enrollmentKey = "bench-enrollment-key";
await stores.enrollmentKeys.create({
  id: "k1",
  tenantId,
  name: "bench",
  groupId: "",
  secretHash: hashSecret(enrollmentKey),
  maxUses: 0,
  uses: 0,
  expiresAt: undefined,
});

const settle = async () => {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 1000));
};
await settle();
const rssBefore = process.memoryUsage().rss;

console.log(`starting ${screens} simulated screens (${streamsPerConnection} stream(s) per connection)`);
const child = spawn(
  "bash",
  [
    "-c",
    'ulimit -n 65536 2>/dev/null || true; exec "$0" "$@"',
    process.execPath,
    "control-plane/bench/fleet-sim-child.ts",
    baseUrl,
    enrollmentKey,
    String(screens),
    String(streamsPerConnection),
  ],
  { cwd: new URL("../..", import.meta.url).pathname, stdio: ["ignore", "pipe", "inherit"] },
);
const lines = createInterface({ input: child.stdout });
const ready = await new Promise<{ connected: number; ms: number }>((resolve, reject) => {
  lines.once("line", (line) => resolve(JSON.parse(line) as { connected: number; ms: number }));
  child.once("exit", (code) => reject(new Error(`simulator exited with ${code} before connecting`)));
});
console.log(
  `all ${ready.connected} screens enrolled and connected in ${ready.ms} ms; server holds ${plane.runtime.registry.size}`,
);
await settle();
const rssAfter = process.memoryUsage().rss;

/** CPU seconds (user + system) the child has used so far, from /proc (Linux). */
const childCpuSeconds = async () => {
  const stat = await readFile(`/proc/${child.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const publisher = new Publisher(plane.runtime);
const latencies: number[] = [];
const serverCpuPerScreenUs: number[] = [];
for (let round = 1; round <= publishes; round++) {
  stores.publishSources.setDefaultPlaylist(
    tenantId,
    [{ videoId: "v", sha256: "a".repeat(64), durationMs: 5000, sizeBytes: 1000n, contentType: "video/mp4" }],
    `round ${round}`,
  );
  const started = performance.now();
  const serverCpu = process.cpuUsage();
  const childCpu = await childCpuSeconds();
  await publisher.publish(tenantId, [], false);
  const stored = performance.now() - started;
  const version = BigInt(round);
  for (;;) {
    let acked = 0;
    for (const status of stores.statuses.rows.values()) if (status.appliedVersion >= version) acked++;
    if (acked >= screens) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  latencies.push(performance.now() - started);
  const serverUsed = process.cpuUsage(serverCpu);
  serverCpuPerScreenUs.push((serverUsed.user + serverUsed.system) / screens);
  console.log(
    `publish ${round}: stored and pushed in ${stored.toFixed(0)} ms, all ${screens} screens acked in ${latencies.at(-1)?.toFixed(0)} ms` +
      ` (CPU: server ${((serverUsed.user + serverUsed.system) / 1000).toFixed(0)} ms, simulator ${(((await childCpuSeconds()) - childCpu) * 1000).toFixed(0)} ms)`,
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
}

child.kill("SIGTERM");
await new Promise((resolve) => child.once("exit", resolve));
stopSweep();
plane.close();
server.close();

const sorted = [...latencies].sort((a, b) => a - b);
const quantile = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
const note = `${screens} screens, in-memory stores: the stream path only, the PostgreSQL stores are not in this benchmark`;
reportMetrics([
  {
    name: "control-plane.fleet.rss_per_stream",
    value: (rssAfter - rssBefore) / 1024 / screens,
    unit: "KiB",
    goal: `10,000 streams on one process; bare connect-node measured ~72 KiB/stream (${note})`,
  },
  {
    name: "control-plane.fleet.server_rss",
    value: rssAfter / 1024 / 1024,
    unit: "MiB",
    goal: `server RSS with all streams open (${note})`,
  },
  {
    name: "control-plane.fleet.publish_server_cpu_per_screen",
    value: [...serverCpuPerScreenUs].sort((a, b) => a - b)[Math.floor(serverCpuPerScreenUs.length / 2)] ?? Number.NaN,
    unit: "us",
    goal: `median server CPU per screen per publish incl. push and ack (robust to machine load; ${note})`,
  },
  {
    name: "control-plane.fleet.publish_to_all_acked.p50",
    value: quantile(0.5),
    unit: "ms",
    goal: `all acked within 2 s (${note}, ${publishes} publishes)`,
  },
  {
    name: "control-plane.fleet.publish_to_all_acked.p99",
    value: quantile(0.99),
    unit: "ms",
    goal: `<= 2000 ms (${note}, ${publishes} publishes)`,
  },
]);
process.exit(0);
