import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PlayItem } from "../../src/playback/index.ts";
import { frameAverages, type Harness, makeClips, plan, startHarness, upperPixel, waitFor } from "./fixtures.ts";

let media: string;
let clipsA: PlayItem[];
let clipsB: PlayItem[];
let h: Harness | undefined;

beforeAll(async () => {
  media = await mkdtemp(join(tmpdir(), "avtech-media-"));
  clipsA = await makeClips(media, "a", 2, 1);
  clipsB = await makeClips(media, "b", 2, 1);
});
afterAll(async () => {
  await rm(media, { recursive: true, force: true });
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const pngSignature = [0x89, 0x50, 0x4e, 0x47];

/** True once mpv reported a shown frame (`playback-restart`) after the last file it started. */
function frameSinceStart(harness: Harness | undefined): boolean {
  const events = harness?.diagnostics ?? [];
  const start = events.findLastIndex((d) => d.kind === "mpv-event" && d.event.event === "start-file");
  return (
    start >= 0 && events.slice(start + 1).some((d) => d.kind === "mpv-event" && d.event.event === "playback-restart")
  );
}

/** mpv's playback position in seconds, asked over IPC; undefined between files. */
async function timePos(playback: Harness["playback"]): Promise<number | undefined> {
  const value = await playback.getProperty("time-pos").catch(() => undefined);
  return typeof value === "number" ? value : undefined;
}

describe("mpv playback (real mpv, --vo=null)", { timeout: 15_000 }, () => {
  it("shows a generated slate, never black, when there is no plan", async () => {
    h = await startHarness();
    await h.playback.showSlate({ kind: "pairing", pairingCode: "BCDF-GHJK", expiresAt: new Date() });
    expect(h.playback.status().state).toBe(PlaybackState.PAIRING);
    expect(h.playback.healthy()).toBe(true);
    const shot = join(h.runtimeDir, "slate.png");
    await waitFor("the slate to load", () => h?.events("playback-restart").length === 2);
    await h.playback.screenshot(shot);
    expect([...(await readFile(shot)).subarray(0, 4)]).toEqual(pngSignature);
    // The slate background (0x14213d), not black.
    const [r, g, b] = await upperPixel(shot);
    expect(Math.abs(r - 0x14) + Math.abs(g - 0x21) + Math.abs(b - 0x3d)).toBeLessThan(12);
  });

  it("plays a plan gaplessly in a loop and records proof of play", async () => {
    h = await startHarness();
    const p = plan("lobby", clipsA);
    await h.playback.play(p);
    await waitFor("three clips to complete", () => (h?.records.length ?? 0) >= 3, 8_000);
    const records = h.records.slice(0, 3);
    expect(records.map((r) => r.videoId)).toEqual(["a0", "a1", "a0"]);
    for (const r of records) {
      expect(r).toMatchObject({ playlistId: "lobby", ruleId: "", completed: true });
      expect(r.endedAt.getTime() - r.startedAt.getTime()).toBeGreaterThan(800);
    }
    expect(records[0]?.assetSha256).toBe(clipsA[0]?.assetSha256);
    // Clip to clip without a stop: every end-file of the plan's clips was eof.
    const endReasons = h.events("end-file").map((d) => d.event.reason);
    expect(endReasons.slice(1).every((reason) => reason === "eof")).toBe(true);
    const status = h.playback.status();
    expect(status.state).toBe(PlaybackState.PLAYING);
    expect(status.playlistId).toBe("lobby");
  });

  it("switches to a new plan at the clip boundary: the current clip ends with eof", async () => {
    h = await startHarness();
    await h.playback.play(plan("morning", clipsA));
    // Switch while the first clip is on screen (its first frame is out), well before its end.
    await waitFor("the first clip's first frame", () => h?.playback.status().videoId === "a0" && frameSinceStart(h));
    await h.playback.play(plan("evening", clipsB));
    await waitFor(
      "the evening plan to loop once",
      () => (h?.records.filter((r) => r.playlistId === "evening").length ?? 0) >= 3,
      8_000,
    );
    const seq = h.records.map((r) => `${r.playlistId}/${r.videoId}/${r.completed ? "eof" : "cut"}`);
    expect(seq.slice(0, 4)).toEqual(["morning/a0/eof", "evening/b0/eof", "evening/b1/eof", "evening/b0/eof"]);
    // The old plan's entry was dropped after the switch: the loop never came back to it.
    expect(h.records.slice(1).every((r) => r.playlistId === "evening" && r.completed)).toBe(true);
  });

  it("shows no black frame from slate to clip, clip to clip and across a plan switch (--vo=image)", async () => {
    const frames = join(media, "frames");
    await mkdir(frames);
    h = await startHarness({
      extraArgs: ["--vo=image", "--vo-image-format=png", `--vo-image-outdir=${frames}`, "--ao=null"],
    });
    await h.playback.play(plan("morning", clipsA));
    await waitFor("two clips", () => (h?.records.length ?? 0) >= 2, 8_000);
    await h.playback.play(plan("evening", clipsB));
    await waitFor(
      "two evening clips",
      () => (h?.records.filter((r) => r.playlistId === "evening").length ?? 0) >= 2,
      8_000,
    );
    await h.close();
    h = undefined;
    const averages = await frameAverages(frames, "%08d.png");
    // Every frame mpv output, slate included, has content; black would average near (0, 0, 0).
    const darkest = Math.min(...averages.map(([r, g, b]) => r + g + b));
    expect(darkest).toBeGreaterThan(60);
    // 4+ whole clips of 25 frames went through the video output (none skipped at the boundaries).
    expect(averages.length).toBeGreaterThanOrEqual(100);
    await rm(frames, { recursive: true, force: true });
  });

  it("treats the same plan again as a no-op", async () => {
    h = await startHarness();
    await h.playback.play(plan("lobby", clipsA));
    await waitFor("playback", () => h?.playback.status().videoId === "a0");
    const starts = h.events("start-file").length;
    const playback = h.playback;
    const before = (await timePos(playback)) ?? 0;
    await playback.play(
      plan(
        "lobby",
        clipsA.map((item) => ({ ...item })),
      ),
    );
    // Nothing may happen, so time must pass: let mpv play 300 ms more of the clip by its own clock
    // (not a sleep of ours, which a loaded machine can stretch or mpv can spend starved). A reload
    // would have shown up as a start-file event before the new file got that far.
    await waitFor("the clip to play on", async () => ((await timePos(playback)) ?? 0) >= before + 0.3);
    expect(h.events("start-file").length).toBe(starts);
    expect(h.records).toEqual([]);
  });

  it("overlays identify text without interrupting the clip", async () => {
    h = await startHarness();
    await h.playback.play(plan("lobby", clipsA));
    await waitFor("playback", () => (h?.playback.status().positionMs ?? 0) > 0, 5_000);
    await h.playback.identify("Lobby screen 3", 2);
    await waitFor("two clips to complete", () => (h?.records.length ?? 0) >= 2, 5_000);
    // A stopped clip would show up as an interrupted record.
    expect(h.records.every((r) => r.completed)).toBe(true);
  });

  it("skips a missing clip without a play record and plays on", async () => {
    h = await startHarness();
    const missing = { ...(clipsA[0] as PlayItem), path: join(media, "gone.mp4"), videoId: "gone" };
    await h.playback.play(plan("lobby", [missing, clipsA[1] as PlayItem]));
    await waitFor("two played clips", () => (h?.records.length ?? 0) >= 2, 15_000); // generous: two 1 s clips, but mpv starts slowly when the suite loads both cores
    expect(h.records.map((r) => r.videoId)).toEqual(["a1", "a1"]);
    expect(h.records.every((r) => r.completed)).toBe(true);
  });

  it("takes a screenshot of the playing video", async () => {
    h = await startHarness();
    await h.playback.play(plan("lobby", clipsA));
    await waitFor("a decoded frame", () => (h?.playback.status().positionMs ?? 0) > 0);
    const shot = join(h.runtimeDir, "video.png");
    await h.playback.screenshot(shot);
    expect([...(await readFile(shot)).subarray(0, 4)]).toEqual(pngSignature);
  });

  it("cuts a clip short for a slate and records it as interrupted", async () => {
    h = await startHarness();
    await h.playback.play(plan("lobby", clipsA));
    await waitFor("a shown frame", () => (h?.playback.status().positionMs ?? 0) > 0);
    await h.playback.showSlate({ kind: "standby", screenName: "Lobby" });
    await waitFor("the interrupted record", () => h?.records.some((r) => !r.completed) === true);
    // Nothing more may happen, so time must pass: 1.2 s is longer than a clip, enough for a plan
    // still playing behind the slate to add a record. This sleep proves an absence and cannot make
    // a correct engine fail, however loaded the machine.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    // The clip on screen when the slate went up is the last record, and the only cut one.
    expect(h.records.filter((r) => !r.completed)).toHaveLength(1);
    expect(h.records.at(-1)?.completed).toBe(false);
    expect(h.playback.status().state).toBe(PlaybackState.STANDBY);
  });
});
