import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/index.ts";
import { startPlayer } from "../src/main.ts";
import { formatStatus, readStatus } from "../src/status/index.ts";
import { stateLayout } from "../src/storage/index.ts";
import { type AssetServer, bytesOf, startAssetServer } from "./lib/asset-server.ts";
import { FakeControlPlane } from "./lib/fake-control-plane.ts";
import { FakePlayback } from "./lib/fake-playback.ts";
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

const fast = { initialMs: 10, maxMs: 50, firstDelayMaxMs: 5 };

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
});
