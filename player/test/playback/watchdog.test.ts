import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createMpvPlayback, type PlayItem } from "../../src/playback/index.ts";
import { alive, type Harness, makeClips, plan, startHarness, waitFor } from "./fixtures.ts";
import { killRepeatedly } from "./kills.ts";

let media: string;
let clips: PlayItem[];
let long: PlayItem[];
let h: Harness | undefined;

beforeAll(async () => {
  media = await mkdtemp(join(tmpdir(), "avtech-media-"));
  clips = await makeClips(media, "c", 2, 1);
  long = await makeClips(media, "long", 1, 6);
});
afterAll(async () => {
  await rm(media, { recursive: true, force: true });
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

// A short stable run, so that kills spaced by more than it are not a crash loop.
const fastWatchdog = { probeIntervalMs: 250, restart: { stableMs: 300 } };

describe("mpv watchdogs (real mpv)", { timeout: 20_000 }, () => {
  it("resumes playback within 2 s after each of 5 kill -9 in a row", async () => {
    h = await startHarness({ watchdog: fastWatchdog });
    await h.playback.play(plan("lobby", clips));
    await waitFor("playback", () => h?.events("playback-restart").length === 2);
    const recoveries = await killRepeatedly(h, 5, 400);
    expect(Math.max(...recoveries)).toBeLessThan(2_000);
    const status = h.playback.status();
    expect(status.mpvRestartsLastHour).toBe(5);
    expect(status.mpvCrashLoop).toBe(false);
    expect(status.state).toBe(PlaybackState.PLAYING);
    // The clips cut by the kills are reported as interrupted.
    expect(h.records.filter((r) => !r.completed).length).toBeGreaterThanOrEqual(5);
  });

  it("replaces a stopped (SIGSTOP) mpv after the IPC timeout and plays again", async () => {
    h = await startHarness({ watchdog: fastWatchdog });
    await h.playback.play(plan("lobby", clips));
    await waitFor("playback", () => h?.events("playback-restart").length === 2);
    const pid = h.readyPid() as number;
    process.kill(pid, "SIGSTOP");
    try {
      await waitFor("the watchdog to notice", () => !h?.playback.healthy(), 4_000);
      await waitFor("a new mpv to play", () => {
        const now = h?.readyPid();
        return now !== undefined && now !== pid && (h?.events("playback-restart", now).length ?? 0) > 0;
      });
      expect(h.diagnostics.some((d) => d.kind === "watchdog" && d.reason === "ipc-timeout" && d.pid === pid)).toBe(
        true,
      );
      expect(alive(pid)).toBe(false);
      expect(h.playback.healthy()).toBe(true);
    } finally {
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });

  it("restores the clip and position after a crash", async () => {
    h = await startHarness({ watchdog: fastWatchdog });
    await h.playback.play(plan("long", long));
    await waitFor("3 s of the clip", () => (h?.playback.status().positionMs ?? 0) >= 3_000, 6_000);
    const pid = h.readyPid() as number;
    process.kill(pid, "SIGKILL");
    await waitFor("a new mpv", () => {
      const now = h?.readyPid();
      return now !== undefined && now !== pid;
    });
    await waitFor("a position report", () => h?.playback.status().state === PlaybackState.PLAYING);
    await waitFor("the position to be probed", () => (h?.playback.status().positionMs ?? 0) > 0);
    expect(h.playback.status().positionMs).toBeGreaterThanOrEqual(2_500);
  });

  it("reports a crash loop and stays unhealthy when mpv dies at every start", async () => {
    const runtimeDir = await mkdtemp(join(tmpdir(), "avtech-playback-"));
    const playback = createMpvPlayback({
      runtimeDir,
      mpvPath: "/bin/false",
      logger: pino({ level: "silent" }),
      slateSize: { width: 320, height: 180 },
      watchdog: { restart: { initialMs: 20, maxMs: 160 }, startTimeoutMs: 1_500 },
    });
    try {
      // start() gives up waiting (so the player can come up and report) while restarts go on.
      await playback.start();
      const status = playback.status();
      expect(status.state).toBe(PlaybackState.RECOVERING);
      expect(status.mpvCrashLoop).toBe(true);
      expect(status.mpvRestartsLastHour).toBeGreaterThanOrEqual(5);
      expect(playback.healthy()).toBe(false);
    } finally {
      await playback.stop();
      await rm(runtimeDir, { recursive: true, force: true });
    }
  });
});
