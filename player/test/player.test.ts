import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { OsUpdateSchema, RebootPolicy, UpdatePhase } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/index.ts";
import { startPlayer } from "../src/main.ts";
import { formatStatus, readStatus } from "../src/status/index.ts";
import { stateLayout } from "../src/storage/index.ts";
import { type AssetServer, bytesOf, startAssetServer } from "./lib/asset-server.ts";
import { FakeControlPlane } from "./lib/fake-control-plane.ts";
import { FakePlayback } from "./lib/fake-playback.ts";
import { FakeRauc, FakeRebooter } from "./lib/fake-rauc.ts";
import { desiredState } from "./lib/states.ts";

let dir: string;
let server: AssetServer;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-player-"));
  server = await startAssetServer();
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function configText(): string {
  return `control_plane_url = "${server.baseUrl}"\nenrollment_key = "ek-1"\ndata_dir = "${dir}"\nlog_level = "silent"\n`;
}

const fast = { initialMs: 10, maxMs: 50, firstDelayMaxMs: 5, spreadMs: 5 };

describe("the wired player (main.ts)", () => {
  it("enrolls, applies a desired state, writes its status, and replays it offline after a restart", async () => {
    const config = parseConfig(configText(), join(dir, "avtech.toml"));
    const cp = new FakeControlPlane();
    const playback = new FakePlayback();
    const logger = pino({ level: "silent" });
    const player = await startPlayer(config, { logger, playback, transport: cp.transport, reconnect: fast });
    expect(playback.calls[1]).toMatchObject({ method: "showSlate", slate: { kind: "connecting" } });
    await cp.waitFor((r) => r.message.case === "hello");
    const sha256 = server.add(bytesOf(40_000, 1));
    cp.send({
      case: "desiredState",
      value: desiredState({
        version: 7,
        playlists: { main: [{ sha256, sizeBytes: 40_000, url: `/assets/${sha256}` }] },
      }),
    });
    await cp.waitFor((r) => r.message.case === "syncReport");
    expect(playback.plans.at(-1)?.items[0]?.path).toBe(join(dir, "media", "v1", sha256));
    await player.stop();

    const status = await readStatus(stateLayout(config.dataDir, config.mediaDir).statusFile);
    expect(status).toBeDefined();
    if (status) expect(formatStatus(status, new Date(), 5_000)).toMatch(/link {7}\w+/);

    const down = new FakeControlPlane();
    down.failConnects = 1_000;
    const offline = new FakePlayback();
    const again = await startPlayer(config, { logger, playback: offline, transport: down.transport, reconnect: fast });
    expect(offline.plans).toHaveLength(1);
    expect(offline.plans[0]?.items[0]?.assetSha256).toBe(sha256);
    expect(again.reconciler.appliedVersion).toBe(7n);
    await again.stop();
  });

  it("`avtech-player status` prints the snapshot in a terminal-friendly form", async () => {
    const config = parseConfig(configText(), join(dir, "avtech.toml"));
    await writeFile(join(dir, "avtech.toml"), configText());
    const player = await startPlayer(config, {
      logger: pino({ level: "silent" }),
      playback: new FakePlayback(),
      transport: new FakeControlPlane().transport,
      reconnect: fast,
    });
    await player.stop();
    const { stdout } = await promisify(execFile)(process.execPath, [
      join(import.meta.dirname, "..", "src", "cli.ts"),
      "status",
      "--config",
      join(dir, "avtech.toml"),
    ]);
    expect(stdout).toMatch(/^player {5}/);
    expect(stdout).toContain("content    applied version 0");
    expect(stdout).toContain("media      0 assets");
  });

  it("installs the OS update the applied state names while the content keeps playing, then reboots at a clip boundary", async () => {
    const config = parseConfig(configText(), join(dir, "avtech.toml"));
    const cp = new FakeControlPlane();
    const playback = new FakePlayback();
    const rauc = new FakeRauc();
    rauc.installVersion = "2026.12.2";
    const rebooter = new FakeRebooter();
    const player = await startPlayer(config, {
      logger: pino({ level: "silent" }),
      playback,
      transport: cp.transport,
      reconnect: fast,
      rauc,
      rebooter,
      imageVersion: async () => "2026.12.1",
    });
    const hello = await cp.waitFor((r) => r.message.case === "hello");
    expect(hello.message.value).toMatchObject({ imageVersion: "2026.12.1", bootedSlot: "A" });
    const clip = server.add(bytesOf(40_000, 2));
    const bundle = bytesOf(200_000, 3);
    const bundleSha = server.add(bundle);
    const state = desiredState({
      version: 8,
      playlists: { main: [{ sha256: clip, sizeBytes: 40_000, url: `/assets/${clip}` }] },
    });
    state.osUpdate = create(OsUpdateSchema, {
      rolloutId: "ro-1",
      releaseId: "rel-1",
      version: "2026.12.2",
      compatible: "avtech-rpi",
      bundle: { sha256: bundleSha, sizeBytes: BigInt(bundle.length), url: `/assets/${bundleSha}` },
      rebootPolicy: RebootPolicy.NOW,
    });
    cp.send({ case: "desiredState", value: state });
    await cp.waitFor((r) => r.message.case === "updateReport" && r.message.value.phase === UpdatePhase.REBOOTING);
    expect(playback.plans).toHaveLength(1);
    const playedAt = playback.calls.findIndex((c) => c.method === "play");
    // A clip is on screen: the reboot waits for its end.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(rebooter.reboots).toBe(0);
    playback.emitPlayRecord({
      assetSha256: clip,
      videoId: "video-0",
      playlistId: "main",
      ruleId: "",
      startedAt: new Date(Date.now() - 5_000),
      endedAt: new Date(),
      completed: true,
    });
    await cp.waitFor((r) => r.message.case === "updateReport" && r.message.value.message === "rebooting into slot B");
    expect(rebooter.reboots).toBe(1);
    expect(rauc.installs).toEqual([{ path: join(dir, "v1", "update", `${bundleSha}.raucb`), bytes: bundle.length }]);
    // Playback was never stopped or replaced by a slate for the update.
    expect(playback.calls.slice(playedAt + 1).filter((c) => c.method !== "setOutput")).toEqual([]);
    expect(cp.ofCase("updateReport").map((u) => UpdatePhase[u.phase])).toEqual([
      "DOWNLOADING",
      "INSTALLING",
      "REBOOTING",
      "REBOOTING",
    ]);
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    const status = await readStatus(stateLayout(config.dataDir, config.mediaDir).statusFile);
    expect(status?.update).toMatchObject({ system: "rauc", bootedSlot: "A", phase: "rebooting", version: "2026.12.2" });
    if (status) {
      expect(formatStatus(status, new Date(), 5_000)).toContain(
        "update     2026.12.2 (rollout ro-1) rebooting: rebooting into slot B",
      );
    }
    await player.stop();
  }, 15_000);
});
