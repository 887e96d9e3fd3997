/**
 * Player memory benchmark: the whole player (`avtech-player run`, a child process) enrolls with a
 * local control plane, downloads a 20-clip playlist and plays it with real mpv (`--vo=null
 * --ao=null`), first as TypeScript under Node (the reference), then as the device bundle (built
 * here into a temp folder, minified and plain) with and without the device's Node flags. For each
 * it samples the player process's RSS and CPU for 15 s of playback after the state was acked, and
 * the CPU it spent until that ack (start-up, enrollment, 20 downloads, apply).
 *
 * `AVTECH_BENCH_VARIANTS=device,bundled` runs a subset (the reference always runs).
 */
import { execFile, type SpawnOptions, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import { AsyncQueue } from "@avtech/io";
import {
  type ConnectResponse,
  ConnectResponseSchema,
  DeviceService,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type Metric, reportMetrics } from "../../bench/metric.ts";
import { bundlePlayer, deviceNodeFlags } from "../build/index.ts";

const run = promisify(execFile);
const clipCount = 20;
const clipSeconds = 1;
const sampleSeconds = 15;
const settleMs = 2_000;
const sleep = (ms: number) => delay(ms);
/** A deadline for a race: unref'd, so a race already won does not keep the process alive. */
const deadline = <T>(ms: number, value: T) => delay(ms, value, { ref: false });
const mib = (bytes: number) => bytes / 2 ** 20;

/** One way of running the player. */
interface Variant {
  name: string;
  description: string;
  /** Node flags, then the entry script. */
  argv: string[];
  /** Extra environment (e.g. glibc malloc tuning), as a systemd unit would set it. */
  env?: Record<string, string>;
}

interface Sample {
  maxRss: number;
  endRss: number;
  cpuPercent: number;
  clipsPlayed: number;
  /** From Hello to the "applied" sync report: download, verify, write, switch playback. */
  applyMs: number;
  /** CPU the player used from its start to that ack (start-up, enrollment, 20 downloads, apply). */
  startupCpuMs: number;
}

const root = join(import.meta.dirname, "..");
const dir = await mkdtemp(join(tmpdir(), "avtech-memory-bench-"));
const servers: { close(): void }[] = [];
try {
  console.log("bundling the player (minified as shipped, and plain for comparison)");
  const minified = await bundlePlayer({ outfile: join(dir, "min", "avtech-player.mjs") });
  const plain = await bundlePlayer({ outfile: join(dir, "plain", "avtech-player.mjs"), minify: false });
  console.log(`bundle ${mib(minified.bytes).toFixed(2)} MiB minified, ${mib(plain.bytes).toFixed(2)} MiB plain`);

  const reference: Variant = {
    name: "unbundled",
    description: "node src/cli.ts (TypeScript, type stripping)",
    argv: [join(root, "src", "cli.ts")],
  };
  const variants: Variant[] = [
    { name: "bundled-plain", description: "node <plain bundle>", argv: [plain.outfile] },
    { name: "bundled", description: "node dist/avtech-player.mjs (minified)", argv: [minified.outfile] },
    {
      name: "bundled-semi1",
      description: "minified bundle, --max-semi-space-size=1",
      argv: ["--max-semi-space-size=1", minified.outfile],
    },
    {
      name: "bundled-plain-lite",
      description: "plain bundle, --lite-mode",
      argv: ["--lite-mode", plain.outfile],
    },
    {
      name: "device",
      description: `minified bundle, ${deviceNodeFlags.join(" ")} (the device build; the image does not ship it yet)`,
      argv: [...deviceNodeFlags, minified.outfile],
    },
    {
      name: "device-arena2",
      description: "device + MALLOC_ARENA_MAX=2",
      argv: [...deviceNodeFlags, minified.outfile],
      env: { MALLOC_ARENA_MAX: "2" },
    },
    {
      name: "device-sourcemaps",
      description: "device + --enable-source-maps",
      argv: [...deviceNodeFlags, "--enable-source-maps", minified.outfile],
    },
  ];
  const wanted = process.env.AVTECH_BENCH_VARIANTS?.split(",").filter(Boolean);
  const selected = wanted ? variants.filter((v) => wanted.includes(v.name)) : variants;

  console.log(`rendering ${clipCount} clips of ${clipSeconds} s (320x240, 25 fps, H.264)`);
  const clips: { path: string; sha256: string; size: number }[] = [];
  for (let i = 0; i < clipCount; i++) {
    const path = join(dir, `clip${i}.mp4`);
    await run("ffmpeg", [
      ...["-loglevel", "error", "-y", "-f", "lavfi"],
      ...["-i", `testsrc=size=320x240:rate=25:duration=${clipSeconds}`],
      ...["-vf", `drawtext=text='${i} %{frame_num}':fontsize=24:fontcolor=white:x=8:y=8`],
      ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path],
    ]);
    const { stdout } = await run("sha256sum", [path]);
    clips.push({ path, sha256: stdout.slice(0, 64), size: (await stat(path)).size });
  }

  const assets = await startAssetServer(new Map(clips.map((c) => [c.sha256, c.path])));
  servers.push(assets.server);
  const controlPlane = await startControlPlane(clips, assets.baseUrl);
  servers.push(controlPlane.server);

  const results = new Map<string, Sample>();
  for (const variant of [reference, ...selected]) {
    console.log(`${variant.name}: ${variant.description}`);
    const sample = await measure(variant, controlPlane);
    results.set(variant.name, sample);
    console.log(
      `  RSS max ${mib(sample.maxRss).toFixed(1)} MiB (end ${mib(sample.endRss).toFixed(1)}), ` +
        `CPU ${sample.cpuPercent.toFixed(2)} % of a core, ${sample.clipsPlayed} clips played, ` +
        `hello → acked ${sample.applyMs.toFixed(0)} ms, CPU until acked ${sample.startupCpuMs} ms`,
    );
  }

  const ref = results.get(reference.name);
  if (!ref) throw new Error("the reference run produced no sample");
  const metrics: Metric[] = [
    { name: "player.memory.bundle_size", value: mib(minified.bytes), unit: "MiB" },
    { name: "player.memory.bundle_size_plain", value: mib(plain.bytes), unit: "MiB" },
    { name: "player.memory.unbundled_rss", value: mib(ref.maxRss), unit: "MiB" },
    { name: "player.memory.unbundled_cpu", value: ref.cpuPercent, unit: "% of a core" },
    { name: "player.memory.unbundled_startup_cpu", value: ref.startupCpuMs, unit: "ms" },
  ];
  const referenceName = "unbundled (node src/cli.ts)";
  for (const variant of selected) {
    const s = results.get(variant.name);
    if (!s) continue;
    const goal = variant.name === "device";
    metrics.push(
      {
        name: `player.memory.${variant.name}_rss`,
        value: mib(s.maxRss),
        unit: "MiB",
        reference: referenceName,
        reference_value: mib(ref.maxRss),
        // Lower is better: > 1 means the variant uses less memory than the reference.
        ratio: ref.maxRss / s.maxRss,
        ...(goal ? { goal: "<= 80 MiB" } : {}),
      },
      {
        name: `player.memory.${variant.name}_cpu`,
        value: s.cpuPercent,
        unit: "% of a core",
        reference: referenceName,
        reference_value: ref.cpuPercent,
        ...(goal ? { goal: "<= 2 %" } : {}),
      },
      {
        name: `player.memory.${variant.name}_startup_cpu`,
        value: s.startupCpuMs,
        unit: "ms",
        reference: referenceName,
        reference_value: ref.startupCpuMs,
      },
    );
  }
  reportMetrics(metrics);
} finally {
  for (const server of servers) server.close();
  await rm(dir, { recursive: true, force: true });
}

/**
 * Runs one player from a fresh data folder until its state is acked, lets it settle, then
 * samples its RSS and CPU while it plays. Proof-of-play events received during the window show
 * that it really was cycling through the playlist.
 */
async function measure(variant: Variant, cp: ControlPlane): Promise<Sample> {
  const home = join(dir, variant.name);
  await mkdir(join(home, "tmp"), { recursive: true });
  const config = join(home, "avtech.toml");
  await writeFile(
    config,
    [
      `control_plane_url = "${cp.baseUrl}"`,
      `enrollment_key = "bench"`,
      `data_dir = "${join(home, "data")}"`,
      `log_level = "info"`,
      "[mpv]",
      `vo = "null"`,
      `extra_args = ["--ao=null"]`,
      "",
    ].join("\n"),
  );
  const acked = cp.nextAck();
  const options: SpawnOptions = {
    // Every player gets its own TMPDIR: the runtime folder (mpv pidfile, slates) lives there.
    env: { PATH: process.env.PATH, TMPDIR: join(home, "tmp"), LOG_LEVEL: "info", ...variant.env },
    stdio: ["ignore", "ignore", "pipe"],
  };
  const child = spawn(process.execPath, [...variant.argv, "run", "--config", config], options);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    const outcome = await Promise.race([
      acked.then((ms) => ms),
      exited.then(() => "exited" as const),
      deadline(60_000, "timeout" as const),
    ]);
    if (typeof outcome !== "number") {
      throw new Error(`${variant.name}: player ${outcome} before acking the state\n${stderr}`);
    }
    const pid = child.pid ?? 0;
    const startupCpuMs = await processCpuMs(pid);
    await sleep(settleMs);
    const cpu0 = await processCpuMs(pid);
    const played0 = cp.playEvents;
    const t0 = performance.now();
    let maxRss = 0;
    let endRss = 0;
    while (performance.now() - t0 < sampleSeconds * 1000) {
      await sleep(250);
      endRss = await processRss(pid);
      maxRss = Math.max(maxRss, endRss);
    }
    const cpuPercent = (((await processCpuMs(pid)) - cpu0) / (performance.now() - t0)) * 100;
    // Proof of play is batched every second: wait for the last batch of the window.
    await sleep(1_500);
    const clipsPlayed = cp.playEvents - played0;
    if (clipsPlayed < sampleSeconds / clipSeconds / 2) {
      throw new Error(`${variant.name}: only ${clipsPlayed} clips played in ${sampleSeconds} s\n${stderr}`);
    }
    return { maxRss, endRss, cpuPercent, clipsPlayed, applyMs: outcome, startupCpuMs };
  } finally {
    child.kill("SIGTERM");
    const code = await Promise.race([exited, deadline(10_000, "timeout" as const)]);
    if (code === "timeout") child.kill("SIGKILL");
  }
}

interface ControlPlane {
  baseUrl: string;
  server: Http2Server;
  /** Proof-of-play events received so far. */
  readonly playEvents: number;
  /** Resolves at the next sync report that says "applied", with the time since the Hello before it. */
  nextAck(): Promise<number>;
}

/**
 * A minimal DeviceService over h2c on port 0: enrolls every screen, welcomes it (heartbeats
 * every 5 s, so health sampling happens during the window, proof of play every second) and
 * sends one desired state with the playlist.
 */
async function startControlPlane(clips: { sha256: string; size: number }[], assetBase: string): Promise<ControlPlane> {
  let playEvents = 0;
  let ackWaiters: ((applyMs: number) => void)[] = [];
  let helloAt = 0;
  const state = create(DesiredStateSchema, {
    screenId: "screen-bench",
    version: 1n,
    contentHash: "bench-1",
    settings: { timezone: "UTC", screenName: "Bench", volumePercent: 0 },
    playlists: [
      {
        id: "main",
        name: "main",
        items: clips.map((c, i) => ({ assetSha256: c.sha256, durationMs: clipSeconds * 1000, videoId: `v${i}` })),
      },
    ],
    defaultPlaylistId: "main",
    assets: clips.map((c) => ({
      sha256: c.sha256,
      sizeBytes: BigInt(c.size),
      url: `${assetBase}/assets/${c.sha256}`,
      contentType: "video/mp4",
    })),
  });
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(DeviceService, {
        register: async () => ({
          outcome: { case: "enrolled", value: { deviceId: "dev-bench", deviceToken: "token", screenName: "Bench" } },
        }),
        connect: (requests) => {
          const out = new AsyncQueue<ConnectResponse>();
          void (async () => {
            try {
              for await (const request of requests) {
                const m = request.message;
                if (m.case === "hello") {
                  helloAt = performance.now();
                  const welcome = {
                    deviceId: "dev-bench",
                    screenName: "Bench",
                    serverTime: timestampFromDate(new Date()),
                    config: { heartbeatIntervalSeconds: 5, playEventBatchSeconds: 1 },
                  };
                  out.push(create(ConnectResponseSchema, { message: { case: "welcome", value: welcome } }));
                  out.push(create(ConnectResponseSchema, { message: { case: "desiredState", value: state } }));
                } else if (m.case === "syncReport" && m.value.result.case === "applied") {
                  const waiters = ackWaiters;
                  ackWaiters = [];
                  for (const resolve of waiters) resolve(performance.now() - helloAt);
                } else if (m.case === "playEvents") {
                  playEvents += m.value.events.length;
                }
              }
            } catch {
              // The player went away (it is stopped after every run).
            } finally {
              out.close();
            }
          })();
          return out;
        },
      }),
  });
  const server = createHttp2Server(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    server,
    get playEvents() {
      return playEvents;
    },
    nextAck: () => new Promise((resolve) => ackWaiters.push(resolve)),
  };
}

/** Serves `/assets/<sha256>` over HTTP/1.1 (h2c and HTTP/1.1 cannot share a port without TLS). */
async function startAssetServer(files: Map<string, string>): Promise<{ server: Server; baseUrl: string }> {
  const server = createHttpServer((req, res) => {
    const path = files.get(req.url?.replace(/^\/assets\//, "") ?? "");
    if (!path) {
      res.writeHead(404).end();
      return;
    }
    void stat(path).then((s) => {
      res.writeHead(200, { "content-length": s.size, "content-type": "video/mp4" });
      createReadStream(path).pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, baseUrl: `http://127.0.0.1:${port}` };
}

async function processRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** utime + stime of `pid` in ms (clock ticks are 100 Hz on Linux). */
async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
