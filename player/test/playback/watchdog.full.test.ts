import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlayItem } from "../../src/playback/index.ts";
import { makeClips, plan, startHarness, waitFor } from "./fixtures.ts";
import { killRepeatedly } from "./kills.ts";

let media: string;
let clips: PlayItem[];

beforeAll(async () => {
  media = await mkdtemp(join(tmpdir(), "avtech-media-"));
  clips = await makeClips(media, "c", 3, 1);
});
afterAll(async () => {
  await rm(media, { recursive: true, force: true });
});

describe("mpv watchdogs, long run (real mpv)", { timeout: 120_000 }, () => {
  it("resumes playback within 2 s after each of 20 kill -9 in a row, then plays on normally", async () => {
    const h = await startHarness({ watchdog: { probeIntervalMs: 250, restart: { stableMs: 300 } } });
    try {
      await h.playback.play(plan("lobby", clips));
      await waitFor("playback", () => h.events("playback-restart").length === 2);
      const recoveries = await killRepeatedly(h, 20, 400);
      expect(recoveries).toHaveLength(20);
      expect(Math.max(...recoveries)).toBeLessThan(2_000);
      expect(h.playback.status().mpvRestartsLastHour).toBe(20);
      const completedBefore = h.records.filter((r) => r.completed).length;
      await waitFor(
        "two whole clips after the last kill",
        () => h.records.filter((r) => r.completed).length >= completedBefore + 2,
        5_000,
      );
      expect(h.playback.healthy()).toBe(true);
    } finally {
      await h.close();
    }
  });
});
