import { timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { PlaySchedule } from "./plays.ts";

describe("a simulated screen's play schedule", () => {
  it("plays each clip for its own duration, and the schedule's clip length for clips without one", () => {
    const schedule = new PlaySchedule(
      {
        clips: [
          { videoId: "v-1", playlistId: "p-1", sha256: "a".repeat(64), durationMs: 6_000 },
          { videoId: "v-2", playlistId: "p-1", sha256: "b".repeat(64) },
        ],
        clipMs: 10_000,
      },
      1_000_000,
      0,
    );
    // 6 s + 10 s + 6 s end at 1,022,000; the next 10 s clip has not ended by 1,030,000.
    const message = schedule.take(1_030_000);
    const events = message?.message.case === "playEvents" ? message.message.value.events : [];
    expect(
      events.map((event) => [
        event.videoId,
        event.startedAt && timestampMs(event.startedAt),
        event.endedAt && timestampMs(event.endedAt),
      ]),
    ).toEqual([
      ["v-1", 1_000_000, 1_006_000],
      ["v-2", 1_006_000, 1_016_000],
      ["v-1", 1_016_000, 1_022_000],
    ]);
    expect(schedule.take(1_031_999)).toBeUndefined();
    const next = schedule.take(1_032_000);
    expect(next?.message.case === "playEvents" && next.message.value.events.map((e) => e.videoId)).toEqual(["v-2"]);
  });
});
