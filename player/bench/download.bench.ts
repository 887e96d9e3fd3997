/**
 * Player download and apply benchmarks (run by `make bench` through bench/run.ts):
 * - download throughput of a ~200 MiB file from a local HTTP server, ours (hash while streaming,
 *   fsync, verify, rename) vs `curl -o` of the same file from the same server in the same run;
 * - desired state → Playback.play latency when every asset is already cached.
 * The server runs in its own process so it does not share the event loop with our downloader.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { type Metric, reportMetrics } from "../../bench/metric.ts";
import { AssetCache, createHttpGetter, downloadAsset, PlayTimes, statfsProbe } from "../src/assets/index.ts";
import { systemClock } from "../src/lib/index.ts";
import type { PlayPlan } from "../src/playback/types.ts";
import { Reconciler, StateStore } from "../src/reconcile/index.ts";
import { ScheduleTimer } from "../src/schedule/index.ts";
import { prepareLayout, stateLayout } from "../src/storage/index.ts";
import { FakePlayback } from "../test/lib/fake-playback.ts";
import { desiredState } from "../test/lib/states.ts";

const fileBytes = 200 * 1024 * 1024;
// The build machine is shared: the best of several interleaved rounds estimates capability;
// medians are printed for context.
const rounds = 5;
const work = await mkdtemp(join(tmpdir(), "avtech-bench-download-"));

const serverScript = `
import { createServer } from "node:http";
import { createReadStream, statSync } from "node:fs";
const path = process.argv[1];
const size = statSync(path).size;
const server = createServer((req, res) => {
  const m = /^bytes=(\\d+)-$/.exec(req.headers.range ?? "");
  const start = m ? Number(m[1]) : 0;
  res.writeHead(m ? 206 : 200, {
    "content-length": size - start,
    ...(m ? { "content-range": \`bytes \${start}-\${size - 1}/\${size}\` } : {}),
  });
  createReadStream(path, { start, highWaterMark: 1 << 20 }).pipe(res);
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

async function makeFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  for (let written = 0; written < fileBytes; written += 1 << 20) {
    const chunk = randomBytes(1 << 20);
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
  return hash.digest("hex");
}

function startServer(path: string): Promise<{ url: string; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", serverScript, path], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.on("error", reject);
    child.stdout.once("data", (port: Buffer) =>
      resolve({ url: `http://127.0.0.1:${String(port).trim()}/file`, stop: () => child.kill() }),
    );
  });
}

function curl(url: string, out: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("curl", ["-sS", "-o", out, url], { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`curl exited ${code}`)),
    );
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function downloadThroughput(): Promise<Metric> {
  const source = join(work, "source.bin");
  const sha256 = await makeFile(source);
  const server = await startServer(source);
  const http = createHttpGetter();
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const curlOut = join(work, `curl-${round}.bin`);
      theirs.push(await curl(server.url, curlOut));
      await rm(curlOut);
      const dir = join(work, `ours-${round}`);
      await mkdir(dir);
      const started = performance.now();
      await downloadAsset(
        { sha256, sizeBytes: fileBytes, url: new URL(server.url) },
        { http, path: join(dir, sha256), signal: new AbortController().signal },
      );
      ours.push(performance.now() - started);
      if ((await stat(join(dir, sha256))).size !== fileBytes) throw new Error("short download");
      await rm(dir, { recursive: true });
      console.log(`round ${round + 1}: ours ${ours.at(-1)?.toFixed(0)} ms, curl ${theirs.at(-1)?.toFixed(0)} ms`);
    }
  } finally {
    server.stop();
  }
  const mibPerS = (ms: number) => fileBytes / 1024 ** 2 / (ms / 1000);
  console.log(
    `median: ours ${mibPerS(median(ours)).toFixed(0)} MiB/s, curl ${mibPerS(median(theirs)).toFixed(0)} MiB/s`,
  );
  const value = mibPerS(Math.min(...ours));
  const reference = mibPerS(Math.min(...theirs));
  return {
    name: "player.download.throughput",
    value,
    unit: "MiB/s",
    reference: `curl -o of the same file from the same server (best of ${rounds}, interleaved)`,
    reference_value: reference,
    ratio: value / reference,
    goal: ">= 0.9 of curl (ours also hashes, fsyncs and renames)",
  };
}

async function applyLatency(): Promise<Metric> {
  const dataDir = join(work, "device");
  const layout = stateLayout(dataDir, join(dataDir, "media"));
  await prepareLayout(layout);
  const logger = pino({ level: "silent" });
  const cache = new AssetCache(layout.mediaDir, statfsProbe);
  let resolvePlay: ((plan: PlayPlan) => void) | undefined;
  const playback = new (class extends FakePlayback {
    override async play(plan: PlayPlan): Promise<void> {
      await super.play(plan);
      resolvePlay?.(plan);
    }
  })();
  const clips = [0, 1, 2, 3].map((n) => {
    const sha256 = createHash("sha256").update(`clip-${n}`).digest("hex");
    return { sha256, sizeBytes: 7, url: `/assets/${sha256}` };
  });
  // Cache the clips directly: this metric is about applying, not downloading.
  for (const [n, clip] of clips.entries()) await writeFile(join(layout.mediaDir, clip.sha256), `clip-${n}`);
  const timer = new ScheduleTimer({ playback, media: cache, clock: systemClock, logger });
  const reconciler = new Reconciler({
    cache,
    playTimes: new PlayTimes(layout.playTimesFile, systemClock),
    store: new StateStore(layout.lastGoodFile),
    player: timer,
    reporter: { applied: () => undefined, failed: () => undefined },
    http: createHttpGetter(),
    clock: systemClock,
    logger,
    limits: { maxMediaBytes: 1e9, minFreeBytes: 0 },
    resolveUrl: (url) => new URL(url, "http://127.0.0.1:1"),
  });
  await reconciler.boot();
  await reconciler.runNow();
  const latencies: number[] = [];
  for (let version = 1; version <= 30; version++) {
    const state = desiredState({
      version,
      playlists: { main: [clips[version % 4], clips[(version + 1) % 4]].filter((c) => c !== undefined) },
    });
    const played = new Promise<PlayPlan>((resolve) => {
      resolvePlay = resolve;
    });
    const started = performance.now();
    void reconciler.setTarget(state);
    await played;
    latencies.push(performance.now() - started);
  }
  await reconciler.stop();
  timer.stop();
  const p50 = median(latencies);
  const max = Math.max(...latencies);
  console.log(`apply latency over 30 versions: p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
  return {
    name: "player.apply.latency_p50",
    value: p50,
    unit: "ms",
    goal: `<= 300 ms from desired state to Playback.play with cached assets (max over 30: ${max.toFixed(1)} ms)`,
  };
}

try {
  const metrics = [await downloadThroughput(), await applyLatency()];
  reportMetrics(metrics);
} finally {
  await rm(work, { recursive: true, force: true });
}
// Keep-alive sockets to the stopped server may linger; the metrics are out.
process.exit(0);
