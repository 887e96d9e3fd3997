import { DayOfWeek } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../test/lib/fake-clock.ts";
import { FakePlayback } from "../../test/lib/fake-playback.ts";
import { desiredState } from "../../test/lib/states.ts";
import { ScheduleTimer } from "./index.ts";

const logger = pino({ level: "silent" });
const clip = (n: number) => ({ sha256: String(n).repeat(64), sizeBytes: 10, url: `/a/${n}` });
const media = { has: () => true, pathOf: (sha: string) => `/media/v1/${sha}` };

function dayparts() {
  return desiredState({
    version: 1,
    timezone: "Europe/Madrid",
    playlists: { breakfast: [clip(1)], lunch: [clip(2)], always: [clip(3)] },
    defaultPlaylistId: "always",
    rules: [
      { id: "r-breakfast", playlistId: "breakfast", priority: 1, window: { startMinute: 7 * 60, endMinute: 11 * 60 } },
      {
        id: "r-lunch",
        playlistId: "lunch",
        priority: 1,
        window: { startMinute: 12 * 60, endMinute: 15 * 60 },
        daysOfWeek: [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY],
      },
    ],
  });
}

describe("ScheduleTimer", () => {
  it("follows dayparts over a simulated day with no control plane", async () => {
    // Friday 2026-11-20 00:00 in Madrid (UTC+1).
    const clock = new FakeClock(new Date("2026-11-19T23:00:00Z"));
    const playback = new FakePlayback();
    // Hourly safety wake-ups keep two simulated days quick; switches still come from nextChangeAt.
    const timer = new ScheduleTimer({ playback, media, clock, logger, maxSleepMs: 3_600_000 });
    await timer.playState(dayparts());
    await clock.advance(48 * 3600_000);
    timer.stop();
    const switches = playback.plans.map((p) => p.playlistId);
    // Friday: always, breakfast, always, lunch, always; Saturday: breakfast, always (no lunch at weekends).
    expect(switches).toEqual(["always", "breakfast", "always", "lunch", "always", "breakfast", "always"]);
    expect(playback.plans[1]?.ruleId).toBe("r-breakfast");
    expect(playback.plans[1]?.items[0]?.path).toBe(`/media/v1/${"1".repeat(64)}`);
  });

  it("switches on time: at 07:00 local, not a tick later", async () => {
    const clock = new FakeClock(new Date("2026-11-20T05:30:00Z"));
    const playback = new FakePlayback();
    const timer = new ScheduleTimer({ playback, media, clock, logger });
    await timer.playState(dayparts());
    await clock.advance(30 * 60_000 - 1);
    expect(playback.plans.map((p) => p.playlistId)).toEqual(["always"]);
    await clock.advance(1);
    expect(playback.plans.map((p) => p.playlistId)).toEqual(["always", "breakfast"]);
    timer.stop();
  });

  it("notices a wall-clock jump within a minute", async () => {
    const clock = new FakeClock(new Date("2026-11-20T02:00:00Z"));
    const playback = new FakePlayback();
    const timer = new ScheduleTimer({ playback, media, clock, logger });
    await timer.playState(dayparts());
    clock.jump(5 * 3600_000);
    await clock.advance(60_000);
    expect(playback.plans.map((p) => p.playlistId)).toEqual(["always", "breakfast"]);
    timer.stop();
  });

  it("shows the standby slate when nothing is scheduled", async () => {
    const clock = new FakeClock(new Date("2026-11-20T02:00:00Z"));
    const playback = new FakePlayback();
    const timer = new ScheduleTimer({ playback, media, clock, logger });
    const state = dayparts();
    state.defaultPlaylistId = "";
    await timer.playState(state);
    expect(playback.calls.at(-1)).toEqual({ method: "showSlate", slate: { kind: "standby", screenName: "Lobby" } });
    timer.stop();
  });
});
