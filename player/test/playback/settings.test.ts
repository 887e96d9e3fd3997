import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { DayOfWeek, DisplayHoursSchema, Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DisplayPower, PlayItem } from "../../src/playback/index.ts";
import { ScheduleTimer } from "../../src/schedule/index.ts";
import { FakeClock } from "../lib/fake-clock.ts";
import { desiredState } from "../lib/states.ts";
import { type Harness, makeClips, plan, startHarness, upperPixel, waitFor } from "./fixtures.ts";

let media: string;
let clips: PlayItem[];
let h: Harness | undefined;

beforeAll(async () => {
  media = await mkdtemp(join(tmpdir(), "avtech-media-"));
  clips = await makeClips(media, "s", 2, 1);
});
afterAll(async () => {
  await rm(media, { recursive: true, force: true });
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function output(harness: Harness): Promise<{ volume: unknown; rotate: unknown }> {
  return {
    volume: await harness.playback.getProperty("volume"),
    rotate: await harness.playback.getProperty("video-rotate"),
  };
}

describe("screen settings on real mpv (--vo=null --ao=null)", { timeout: 20_000 }, () => {
  it("sets volume and rotation on the running mpv, and restores them after mpv is killed", async () => {
    h = await startHarness();
    await h.playback.play(plan("lobby", clips));
    await waitFor("the first clip to play", () => (h?.events("playback-restart").length ?? 0) > 0);
    const pid = h.readyPid();
    expect(await output(h)).toEqual({ volume: 100, rotate: 0 });

    await h.playback.setOutput({ volumePercent: 35, rotation: 90 });
    expect(await output(h)).toEqual({ volume: 35, rotate: 90 });
    // Applied live: same mpv, and the clip was not reloaded.
    expect(h.readyPid()).toBe(pid);
    expect(h.diagnostics.filter((d) => d.kind === "mpv-started")).toHaveLength(1);
    expect(h.playback.status().state).toBe(PlaybackState.PLAYING);

    process.kill(pid as number, "SIGKILL");
    await waitFor("a new mpv to play", () => {
      const now = h?.readyPid();
      return now !== undefined && now !== pid && (h?.events("playback-restart", now).length ?? 0) > 0;
    });
    expect(await output(h)).toEqual({ volume: 35, rotate: 90 });
  });

  it("goes back to the configured volume and rotation when the settings leave them unset", async () => {
    h = await startHarness({ volume: 70, rotation: 180 });
    expect(await output(h)).toEqual({ volume: 70, rotate: 180 });
    await h.playback.setOutput({ volumePercent: 20, rotation: 270 });
    expect(await output(h)).toEqual({ volume: 20, rotate: 270 });
    await h.playback.setOutput({});
    expect(await output(h)).toEqual({ volume: 70, rotate: 180 });
  });

  it("follows display hours from the desired state: black slate and display off outside, content inside", async () => {
    h = await startHarness();
    // The schedule runs on a fake clock (Friday 19:59:30 UTC); mpv runs in real time.
    const clock = new FakeClock(new Date("2026-11-20T19:59:30Z"));
    const switches: boolean[] = [];
    const displayPower: DisplayPower = { set: async (on) => void switches.push(on) };
    const timer = new ScheduleTimer({
      playback: h.playback,
      media: { has: () => true, pathOf: (sha) => clips.find((c) => c.assetSha256 === sha)?.path ?? "" },
      clock,
      logger: pino({ level: "silent" }),
      displayPower,
    });
    const clip = (item: PlayItem) => ({ sha256: item.assetSha256, sizeBytes: 1, url: `/a/${item.assetSha256}` });
    const state = desiredState({
      version: 1,
      playlists: { main: clips.map(clip) },
      settings: {
        volumePercent: 55,
        orientation: Orientation.LANDSCAPE_FLIPPED,
        displayHours: [
          create(DisplayHoursSchema, {
            daysOfWeek: [
              DayOfWeek.MONDAY,
              DayOfWeek.TUESDAY,
              DayOfWeek.WEDNESDAY,
              DayOfWeek.THURSDAY,
              DayOfWeek.FRIDAY,
            ],
            window: { startMinute: 8 * 60, endMinute: 20 * 60 },
          }),
        ],
      },
    });
    try {
      await timer.playState(state);
      expect(switches).toEqual([true]);
      expect(await output(h)).toEqual({ volume: 55, rotate: 180 });
      await waitFor("content to play", () => (h?.events("playback-restart").length ?? 0) >= 2);
      expect(h.playback.status().state).toBe(PlaybackState.PLAYING);

      await clock.advance(30_000);
      // The timer fired at 20:00; mpv and ffmpeg answer in real time, so wait for that evaluation.
      await timer.evaluate();
      expect(switches).toEqual([true, false]);
      expect(h.playback.status().state).toBe(PlaybackState.DISPLAY_OFF);
      const records = h.records.length;
      // What mpv shows is checked on its decoded frame: black within a few seconds.
      const shot = join(h.runtimeDir, "off.png");
      const deadline = Date.now() + 5_000;
      let sum = Number.POSITIVE_INFINITY;
      while (sum >= 10 && Date.now() < deadline) {
        await h.playback.screenshot(shot).catch(() => undefined);
        sum = (await upperPixel(shot).catch(() => [255, 255, 255])).reduce((a, b) => a + b, 0);
        if (sum >= 10) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(sum).toBeLessThan(10);
      // The clip that was cut counts as interrupted; nothing plays while dark.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(h.records.slice(records).every((record) => !record.completed)).toBe(true);

      // Monday 08:00 UTC: on again, playing.
      await clock.advance(new Date("2026-11-23T08:00:00Z").getTime() - clock.now().getTime());
      await timer.evaluate();
      expect(switches).toEqual([true, false, true]);
      expect(h.playback.status().state).toBe(PlaybackState.PLAYING);
      await waitFor("a clip to complete after the display came back", () =>
        (h?.records ?? []).some((record) => record.completed && record.startedAt.getTime() > Date.now() - 5_000),
      );
      expect(await output(h)).toEqual({ volume: 55, rotate: 180 });
    } finally {
      timer.stop();
    }
  });
});
