import { HealthSchema, PlaybackState, PlaybackStatusSchema } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { DayOfWeek, DisplayHoursSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { defaultRules, judgeScreen, type RuleKind, type ScreenFacts, thresholdProblem } from "./rules.ts";

const now = new Date("2026-12-07T10:00:00Z"); // a Monday
const online: ScreenFacts = {
  tenantId: "t",
  screenId: "s",
  lastSeenAt: new Date(now.getTime() - 5000),
  streamOpen: true,
  heartbeatIntervalSeconds: 15,
  health: create(HealthSchema, {
    cpuTemperatureCelsius: 60,
    diskUsedBytes: 50n,
    diskTotalBytes: 100n,
    clockSynced: true,
  }),
  playback: create(PlaybackStatusSchema, { state: PlaybackState.PLAYING }),
  desiredVersion: 3n,
  appliedVersion: 3n,
  lastFailedVersion: 0n,
  lastSyncError: "",
  timezone: "Europe/Madrid",
  displayHours: [],
};

const verdicts = (facts: ScreenFacts, rules = defaultRules()) =>
  Object.fromEntries([...judgeScreen(facts, rules, now)].map(([kind, v]) => [kind, v.holds ? v.detail : false]));

describe("judgeScreen", () => {
  it("finds nothing wrong with a healthy online screen", () => {
    expect(Object.values(verdicts(online))).toEqual([false, false, false, false, false, false, false]);
  });

  it("judges each condition from the screen's report", () => {
    const facts: ScreenFacts = {
      ...online,
      health: create(HealthSchema, {
        cpuTemperatureCelsius: 84.6,
        diskUsedBytes: 93n,
        diskTotalBytes: 100n,
        clockSynced: false,
      }),
      playback: create(PlaybackStatusSchema, { state: PlaybackState.DISPLAY_OFF, mpvRestartsLastHour: 4 }),
      desiredVersion: 4n,
      lastFailedVersion: 4n,
      lastSyncError: "DOWNLOAD_FAILED: 404",
    };
    expect(verdicts(facts)).toEqual({
      screen_offline: false,
      sync_failed: "version 4 failed: DOWNLOAD_FAILED: 404",
      disk_full: "disk 93 % full",
      overheated: "SoC at 85 °C",
      clock_unsynced: "system clock not NTP-synchronised",
      playback_errors: "4 mpv restarts in the past hour",
      display_off: "display off during display hours",
    });
  });

  it("counts QUOTA_EXCEEDED and an over-quota cache as a full disk, throttling as overheating", () => {
    const quota = { ...online, desiredVersion: 5n, lastFailedVersion: 5n, lastSyncError: "QUOTA_EXCEEDED: needs 9 GB" };
    expect(verdicts(quota).disk_full).toBe("QUOTA_EXCEEDED: needs 9 GB");
    const cache = {
      ...online,
      health: create(HealthSchema, { mediaBytes: 11n, mediaQuotaBytes: 10n, clockSynced: true }),
    };
    expect(verdicts(cache).disk_full).toBe("media cache 11 bytes is over its quota of 10");
    const throttled = {
      ...online,
      health: create(HealthSchema, { cpuTemperatureCelsius: 70, throttledFlags: 0x50004, clockSynced: true }),
    };
    expect(verdicts(throttled).overheated).toBe("throttled (get_throttled=0x50004) at 70 °C");
    // Bits 16+ are "since boot": not a condition now.
    const earlier = {
      ...online,
      health: create(HealthSchema, { cpuTemperatureCelsius: 70, throttledFlags: 0x50000, clockSynced: true }),
    };
    expect(verdicts(earlier).overheated).toBe(false);
  });

  it("opens offline only after the threshold, and leaves health rules undecided while offline", () => {
    const silent = (minutes: number): ScreenFacts => ({
      ...online,
      streamOpen: false,
      lastSeenAt: new Date(now.getTime() - minutes * 60_000),
      health: create(HealthSchema, { clockSynced: false }),
    });
    expect(verdicts(silent(9.9)).screen_offline).toBe(false);
    expect(verdicts(silent(10.1)).screen_offline).toMatch(/^last seen /);
    expect(judgeScreen(silent(30), defaultRules(), now).has("clock_unsynced")).toBe(false);
    const never = { ...online, lastSeenAt: null, streamOpen: false };
    expect(judgeScreen(never, defaultRules(), now).has("screen_offline")).toBe(false);
  });

  it("uses the tenant's thresholds, and a disabled rule is always clear", () => {
    const rules = defaultRules();
    rules.set("disk_full", { kind: "disk_full", enabled: true, threshold: 95 });
    rules.set("clock_unsynced", { kind: "clock_unsynced", enabled: false, threshold: 0 });
    const facts = {
      ...online,
      health: create(HealthSchema, { diskUsedBytes: 93n, diskTotalBytes: 100n, clockSynced: false }),
    };
    expect(verdicts(facts, rules)).toMatchObject({ disk_full: false, clock_unsynced: false });
  });

  it("reads display hours in the screen's zone: display off outside them is expected", () => {
    // 10:00 UTC is 11:00 in Madrid; hours Monday 12:00-20:00 local say off now, 08:00-20:00 on.
    const hours = (start: number) => [
      create(DisplayHoursSchema, {
        daysOfWeek: [DayOfWeek.MONDAY],
        window: { startMinute: start * 60, endMinute: 20 * 60 },
      }),
    ];
    const off = { ...online, playback: create(PlaybackStatusSchema, { state: PlaybackState.DISPLAY_OFF }) };
    expect(verdicts({ ...off, displayHours: hours(12) }).display_off).toBe(false);
    expect(verdicts({ ...off, displayHours: hours(8) }).display_off).toBe("display off during display hours");
  });
});

describe("thresholdProblem", () => {
  it.each<[RuleKind, number, string | undefined]>([
    ["screen_offline", 0, undefined],
    ["screen_offline", 30, undefined],
    ["screen_offline", 0.5, "rule screen_offline: threshold must be 1..10080 minutes (got 0.5)"],
    ["disk_full", 101, "rule disk_full: threshold must be 50..100 percent (got 101)"],
    ["overheated", Number.POSITIVE_INFINITY, "rule overheated: threshold must be 40..110 °C (got Infinity)"],
    ["sync_failed", 1, "rule sync_failed takes no threshold: send 0"],
  ])("%s %s", (kind, threshold, problem) => {
    expect(thresholdProblem(kind, threshold)).toBe(problem);
  });
});
