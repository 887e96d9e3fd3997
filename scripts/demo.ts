import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  adminCommands,
  bearerToken,
  createLogger,
  findFreePort,
  loadConfig,
  openDatabase,
  startEmbeddedPostgres,
} from "@avtech/control-plane";
import { startFleetSimulator } from "@avtech/fleet-sim";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { populateDemoContent } from "./lib/demo-data.ts";

/**
 * `make demo`: an embedded PostgreSQL, the control plane (console included), a demo tenant with
 * generated clips, playlists, dayparts and a publish, 50 simulated screens that send proof of play
 * (what the Reports page charts), and one real player driving mpv that pairs with a code like a new
 * screen in the field. Runs until Ctrl-C; the data
 * in .data/demo survives restarts.
 */
const root = join(import.meta.dirname, "..");
const dataDir = join(root, ".data", "demo");
const demo = {
  tenant: "demo",
  admin: { email: "admin@demo.avtech", password: "avtech-demo-admin" },
  viewer: { email: "viewer@demo.avtech", password: "avtech-demo-viewer" },
  simulatedScreens: Number(process.env.AVTECH_DEMO_SCREENS ?? 50),
};
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];

function step(message: string): void {
  process.stdout.write(`[demo] ${message}\n`);
}

async function main(): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  step("starting PostgreSQL (embedded, data in .data/demo/postgres)");
  const postgres = await startEmbeddedPostgres({ dataDir: join(dataDir, "postgres") });
  cleanups.push(() => postgres.stop());

  const grpcPort = await preferredPort(8080);
  const httpPort = await preferredPort(8081);
  const env = {
    ...process.env,
    DATABASE_URL: postgres.url,
    AVTECH_HOST: "127.0.0.1",
    AVTECH_PORT: String(grpcPort),
    AVTECH_HTTP1_PORT: String(httpPort),
    AVTECH_BLOB_DIR: join(dataDir, "blobs"),
  };
  step(
    `starting the control plane (gRPC h2c :${grpcPort}, console + gRPC-Web :${httpPort}; log in .data/demo/control-plane.log)`,
  );
  const server = spawnLogged("control-plane", [join(root, "control-plane/src/main.ts")], env, "control-plane.log");
  await waitForReady(`http://127.0.0.1:${httpPort}/readyz`, server);

  const config = loadConfig({ env });
  const database = await openDatabase(config, createLogger({ logLevel: "warn" }));
  const admin = adminCommands(database.orm, config);
  await admin.createTenant({ slug: demo.tenant, name: "Demo Coffee Co." }).catch(ignoreExisting);
  await admin
    .createUser({ tenant: demo.tenant, ...demo.admin, role: "admin", displayName: "Demo admin" })
    .catch(ignoreExisting);
  await admin
    .createUser({ tenant: demo.tenant, ...demo.viewer, role: "viewer", displayName: "Demo viewer" })
    .catch(ignoreExisting);
  const { secret } = await admin.createApiToken({
    tenant: demo.tenant,
    name: `demo ${new Date().toISOString()}`,
    role: "admin",
  });
  await database.close();

  const bearer = bearerToken(secret);
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}`, interceptors: [bearer] });
  const fleet = createClient(FleetService, transport);
  const publish = createClient(PublishService, transport);

  step("generating and uploading the demo clips (ffmpeg), creating playlists, dayparts and the default playlist");
  const { playlistClips } = await populateDemoContent(transport, join(dataDir, "clips"));

  step(`starting ${demo.simulatedScreens} simulated screens (fleet simulator, real streams)`);
  const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "demo simulator" });
  const simulator = await startFleetSimulator({
    baseUrl: `http://127.0.0.1:${grpcPort}`,
    count: demo.simulatedScreens,
    enrollmentKey,
    hardwareIdPrefix: "demo-sim",
    heartbeatIntervalMs: 15_000,
    // Proof of play for the Reports page. The simulator does not evaluate schedules: each screen
    // plays every demo playlist's clips in turn, each for its real length, and sends its finished
    // plays once a minute over its stream, as the player does.
    plays: { clips: playlistClips },
  });
  cleanups.unshift(() => simulator.stop());
  await simulator.whenConnected(60_000);

  step("starting a real player (mpv) that pairs with a code, as a new screen in the field would");
  const player = await startRealPlayer(grpcPort);
  if (player.paired) {
    step("the player was paired in an earlier run (delete .data/demo/player to pair again)");
  } else {
    const pairingCode = await player.pairingCode;
    step(`the player shows pairing code ${pairingCode}; claiming it as "Demo player (real mpv)"`);
    await fleet.claimScreen({ pairingCode, name: "Demo player (real mpv)", tags: ["real"], timezone: localZone() });
  }

  step("publishing to the whole tenant");
  const { results } = await publish.publish({});
  const changed = results.filter((result) => result.changed).length;
  step(`published: ${results.length} screens, ${changed} with a new version`);
  simulator.startPlays();
  step("the simulated screens play and send proof of play every minute (console: Reports)");
  const playlistLength = await withTimeout(
    player.playing,
    180_000,
    "the real player did not start playing within 3 minutes",
  );
  step(`the real player is playing (${playlistLength} clips in its playlist)`);

  step("");
  step(`console:  http://127.0.0.1:${httpPort}/`);
  step(
    `sign in:  tenant "${demo.tenant}", ${demo.admin.email} / ${demo.admin.password} (viewer: ${demo.viewer.email} / ${demo.viewer.password})`,
  );
  step(
    `player:   ${process.env.DISPLAY ? "mpv window on this display" : "mpv with a null video output (no display)"}; its log is .data/demo/player.log`,
  );
  step("Ctrl-C stops everything; the data stays in .data/demo");
  await stopRequested;
}

/** The real player: whether it was paired before, its pairing code, and the clip count once it plays a playlist. */
interface RealPlayer {
  paired: boolean;
  pairingCode: Promise<string>;
  playing: Promise<number>;
}

async function startRealPlayer(grpcPort: number): Promise<RealPlayer> {
  const playerDir = join(dataDir, "player");
  await mkdir(playerDir, { recursive: true });
  const paired = await stat(join(playerDir, "data", "v1", "device-token.json")).then(
    () => true,
    () => false,
  );
  const vo = process.env.DISPLAY ? "gpu" : "null";
  const configPath = join(playerDir, "avtech.toml");
  await writeFile(
    configPath,
    [
      "# Written by make demo.",
      `control_plane_url = "http://127.0.0.1:${grpcPort}"`,
      "pairing = true",
      `data_dir = "${join(playerDir, "data")}"`,
      "max_media_bytes = 1073741824",
      "min_free_bytes = 104857600",
      "",
      "[mpv]",
      `vo = "${vo}"`,
      `extra_args = [${process.env.DISPLAY ? "" : '"--ao=null"'}]`,
      "",
    ].join("\n"),
  );
  const child = spawnLogged(
    "player",
    [join(root, "player/src/cli.ts"), "run", "--config", configPath],
    process.env,
    "player.log",
  );
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`the player exited with code ${code}; see .data/demo/player.log`))),
  );
  const logEntries = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const firstEntry = <T>(pick: (entry: { msg?: string; pairingCode?: string; items?: number }) => T | undefined) =>
    Promise.race([
      exited,
      new Promise<T>((resolve) => {
        logEntries.on("line", (line) => {
          try {
            const found = pick(JSON.parse(line));
            if (found !== undefined) resolve(found);
          } catch {
            // not a log line
          }
        });
      }),
    ]);
  const pairingCode = firstEntry((entry) => entry.pairingCode);
  // The player logs "play" with the playlist's length when it starts playing a plan (a slate is "show slate").
  const playing = firstEntry((entry) => (entry.msg === "play" && (entry.items ?? 0) > 0 ? entry.items : undefined));
  // Nobody waits for a code when the player is already paired: keep the rejection handled.
  pairingCode.catch(() => undefined);
  playing.catch(() => undefined);
  return { paired, pairingCode, playing };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function spawnLogged(name: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  const log = createWriteStream(join(dataDir, logFile), { flags: "a" });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  children.push(child);
  child.once("exit", (code, signal) => {
    if (!shuttingDown) step(`${name} exited (code ${code}, signal ${signal}); see .data/demo/${logFile}`);
  });
  return child;
}

async function waitForReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error("the control plane exited during start-up; see .data/demo/control-plane.log");
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the control plane did not become ready at ${url} within 2 minutes`);
}

async function preferredPort(port: number): Promise<number> {
  const { createServer } = await import("node:net");
  const free = await new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
  return free ? port : findFreePort();
}

function ignoreExisting(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (!/exists|already|taken|duplicate/i.test(message)) throw error;
}

function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

let shuttingDown = false;
// One handler for the whole run: a second Ctrl-C must not kill the demo before it has stopped its
// children, and a signal during set-up must still stop what was started.
let requestStop: () => void = () => undefined;
const stopRequested = new Promise<void>((resolve) => {
  requestStop = resolve;
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (shuttingDown) return;
    requestStop();
  });
}
// Last resort if the demo itself dies: never leave a control plane, player or mpv behind.
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});
async function shutdown(): Promise<void> {
  shuttingDown = true;
  step("stopping");
  for (const child of children.reverse()) {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await Promise.race([once(child, "exit"), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    }
  }
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
}

try {
  await Promise.race([main(), stopRequested]);
} catch (error) {
  const message = error instanceof ConnectError ? `${Code[error.code]}: ${error.rawMessage}` : String(error);
  process.stderr.write(`[demo] failed: ${message}\n`);
  process.exitCode = 1;
} finally {
  await shutdown();
  // Set-up work interrupted by Ctrl-C may still hold timers or sockets: the demo is over.
  process.exit();
}
