import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PlayEventsSchema, PlayOutcome } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stateLayout } from "../src/storage/index.ts";
import { type AssetServer, startAssetServer } from "./lib/asset-server.ts";
import { FakeControlPlane } from "./lib/fake-control-plane.ts";
import { type H2ControlPlane, serveOverHttp2 } from "./lib/h2-control-plane.ts";
import { desiredState } from "./lib/states.ts";
import { makeClips } from "./playback/fixtures.ts";

/** How long `avtech-player run` may take to exit after SIGTERM (systemd's TimeoutStopSec is far above it). */
const exitBoundMs = 5_000;

let dir: string;
let assets: AssetServer;
let controlPlane: H2ControlPlane | undefined;
let player: ChildProcess | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-stop-"));
  assets = await startAssetServer();
});
afterEach(async () => {
  if (player && player.exitCode === null && player.signalCode === null) player.kill("SIGKILL");
  await controlPlane?.close();
  await assets.close();
  await rm(dir, { recursive: true, force: true });
});

describe("avtech-player run stops", () => {
  it("exits within 5 s of SIGTERM while a clip plays and the control plane is gone, keeping the cut clip's proof of play", async () => {
    // One 6 s clip: stopped 1.5 s after the apply, mpv is inside it, far from a clip boundary.
    const [clip] = await makeClips(dir, "clip", 1, 6);
    if (!clip) throw new Error("no clip");
    const body = await readFile(clip.path);
    const sha256 = assets.add(body);
    const cp = new FakeControlPlane();
    controlPlane = await serveOverHttp2(cp.routes);
    const dataDir = join(dir, "data");
    const config = join(dir, "avtech.toml");
    await writeFile(
      config,
      [
        `control_plane_url = "${controlPlane.baseUrl}"`,
        `enrollment_key = "ek-1"`,
        `data_dir = "${dataDir}"`,
        "[mpv]",
        `vo = "null"`,
        `extra_args = ["--ao=null"]`,
        "",
      ].join("\n"),
    );
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, "..", "src", "cli.ts"), "run", "--config", config],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    player = child;
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, "exit") as Promise<[number | null, string | null]>;

    await cp.waitFor((r) => r.message.case === "hello");
    cp.send({
      case: "desiredState",
      value: desiredState({
        version: 3,
        playlists: { main: [{ sha256, sizeBytes: body.length, url: assets.urlOf(sha256).href }] },
      }),
    });
    await cp.waitFor((r) => r.message.case === "syncReport" && r.message.value.result.case === "applied");
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    // Ctrl-C in `make demo` reaches the control plane and the player together.
    await controlPlane.close();
    const signalledAt = performance.now();
    child.kill("SIGTERM");
    const bound = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), exitBoundMs).unref());
    const outcome = await Promise.race([exited, bound]);
    const exitMs = performance.now() - signalledAt;
    expect(outcome, `still running ${exitBoundMs} ms after SIGTERM; stderr: ${stderr}`).not.toBe("timeout");
    expect(outcome).toEqual([0, null]);
    expect(exitMs).toBeLessThan(exitBoundMs);

    // mpv reports the clip it was showing as interrupted when it quits: that record is sealed to
    // disk before the process ends (the control plane gets it after the restart), not dropped.
    const layout = stateLayout(dataDir, join(dataDir, "media"));
    const events = [];
    for (const name of (await readdir(layout.playEventsDir)).filter((n) => n.endsWith(".binpb"))) {
      events.push(...fromBinary(PlayEventsSchema, await readFile(join(layout.playEventsDir, name))).events);
    }
    expect(events).toContainEqual(
      expect.objectContaining({ assetSha256: sha256, playlistId: "main", outcome: PlayOutcome.INTERRUPTED }),
    );
    const playTimes = JSON.parse(await readFile(layout.playTimesFile, "utf8")) as Record<string, number>;
    expect(playTimes[sha256]).toBeGreaterThan(0);
  }, 30_000);
});
