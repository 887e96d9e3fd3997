import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { DayOfWeek, DisplayHoursSchema, Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../test/lib/fake-clock.ts";
import { FakePlayback } from "../../test/lib/fake-playback.ts";
import { desiredState } from "../../test/lib/states.ts";
import type { DisplayPower } from "../playback/index.ts";
import { outputSettingsOf, ScheduleTimer } from "./index.ts";

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

/** A display-power port that records every switch. */
function fakeDisplayPower(): DisplayPower & { switches: boolean[] } {
  const switches: boolean[] = [];
  return { switches, set: async (on) => void switches.push(on) };
}

/** Weekdays 08:00-20:00 local on top of the dayparts. */
function withDisplayHours() {
  const state = dayparts();
  const weekdays = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY];
  state.settings?.displayHours.push(
    create(DisplayHoursSchema, { daysOfWeek: weekdays, window: { startMinute: 8 * 60, endMinute: 20 * 60 } }),
  );
  return state;
}

describe("ScheduleTimer screen settings", () => {
  it("applies volume and orientation, and sends them again only when they change", async () => {
    const clock = new FakeClock(new Date("2026-11-20T09:00:00Z"));
    const playback = new FakePlayback();
    const timer = new ScheduleTimer({ playback, media, clock, logger });
    const state = dayparts();
    if (state.settings) {
      state.settings.volumePercent = 35;
      state.settings.orientation = Orientation.PORTRAIT;
    }
    await timer.playState(state);
    expect(playback.output).toEqual({ volumePercent: 35, rotation: 90 });
    await clock.advance(6 * 3600_000);
    expect(playback.calls.filter((c) => c.method === "setOutput")).toHaveLength(1);

    const next = dayparts();
    next.version = 2n;
    if (next.settings) {
      next.settings.volumePercent = 0;
      next.settings.orientation = Orientation.PORTRAIT_FLIPPED;
    }
    await timer.playState(next);
    expect(playback.output).toEqual({ volumePercent: 0, rotation: 270 });
    timer.stop();
  });

  it("maps every orientation, and keeps the configured rotation when none is set", () => {
    const rotationOf = (orientation: Orientation) => {
      const state = dayparts();
      if (state.settings) state.settings.orientation = orientation;
      return outputSettingsOf(state).rotation;
    };
    expect(rotationOf(Orientation.UNSPECIFIED)).toBeUndefined();
    expect(rotationOf(Orientation.LANDSCAPE)).toBe(0);
    expect(rotationOf(Orientation.PORTRAIT)).toBe(90);
    expect(rotationOf(Orientation.LANDSCAPE_FLIPPED)).toBe(180);
    expect(rotationOf(Orientation.PORTRAIT_FLIPPED)).toBe(270);
    const bare = dayparts();
    bare.settings = undefined;
    expect(outputSettingsOf(bare)).toEqual({});
  });

  it("turns the display off outside display hours and on at the next window, on time", async () => {
    // Friday 2026-11-20 19:59 in Madrid (UTC+1).
    const clock = new FakeClock(new Date("2026-11-20T18:59:00Z"));
    const playback = new FakePlayback();
    const power = fakeDisplayPower();
    const timer = new ScheduleTimer({ playback, media, clock, logger, displayPower: power, maxSleepMs: 3_600_000 });
    await timer.playState(withDisplayHours());
    expect(power.switches).toEqual([true]);
    expect(playback.current).toMatchObject({ playlistId: "always" });

    await clock.advance(60_000 - 1);
    expect(power.switches).toEqual([true]);
    await clock.advance(1);
    // 20:00 local: black slate first, then the display goes off.
    expect(playback.current).toEqual({ kind: "display-off" });
    expect(playback.status().state).toBe(PlaybackState.DISPLAY_OFF);
    expect(power.switches).toEqual([true, false]);
    expect(timer.snapshot?.displayOn).toBe(false);

    // Saturday's breakfast daypart comes and goes while the display stays off.
    await clock.advance(24 * 3600_000);
    expect(playback.current).toEqual({ kind: "display-off" });
    expect(power.switches).toEqual([true, false]);

    // Monday 08:00 local (07:00Z), not a moment earlier: on again, with what the schedule says then.
    const mondayEight = new Date("2026-11-23T07:00:00Z").getTime();
    await clock.advance(mondayEight - 1 - clock.now().getTime());
    expect(power.switches).toEqual([true, false]);
    await clock.advance(1);
    expect(power.switches).toEqual([true, false, true]);
    expect(playback.current).toMatchObject({ playlistId: "breakfast", ruleId: "r-breakfast" });
    timer.stop();
  });

  it("switches the display on at start-up inside display hours (a restart may follow an off period)", async () => {
    const clock = new FakeClock(new Date("2026-11-20T10:00:00Z"));
    const power = fakeDisplayPower();
    const timer = new ScheduleTimer({ playback: new FakePlayback(), media, clock, logger, displayPower: power });
    await timer.playState(withDisplayHours());
    expect(power.switches).toEqual([true]);
    timer.stop();
  });

  it("shows the display-off slate without a display-power port", async () => {
    const clock = new FakeClock(new Date("2026-11-20T22:00:00Z"));
    const playback = new FakePlayback();
    const timer = new ScheduleTimer({ playback, media, clock, logger });
    await timer.playState(withDisplayHours());
    expect(playback.plans).toEqual([]);
    expect(playback.current).toEqual({ kind: "display-off" });
    timer.stop();
  });
});
