import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { describe, expect, it } from "vitest";
import { UptimeAccumulator, uptimeStateOf } from "./uptime.ts";

const t = (iso: string) => new Date(iso);
const hour = (iso: string) => Date.parse(iso);

describe("UptimeAccumulator", () => {
  it("credits the time since the previous heartbeat to the state the heartbeat reports", () => {
    const uptime = new UptimeAccumulator();
    uptime.opened("s1", t("2026-12-01T10:00:00Z"), 15);
    uptime.beat("s1", t("2026-12-01T10:00:15Z"), "playing");
    uptime.beat("s1", t("2026-12-01T10:00:30Z"), "playing");
    uptime.beat("s1", t("2026-12-01T10:00:45Z"), "displayOff");
    uptime.beat("s1", t("2026-12-01T10:01:00Z"), "idle");
    expect(uptime.take()).toEqual([
      { screenId: "s1", hour: hour("2026-12-01T10:00:00Z"), playing: 30_000, displayOff: 15_000, idle: 15_000 },
    ]);
    expect(uptime.take(), "take empties it").toEqual([]);
  });

  it("splits a stretch at the hour boundary and caps a silence at two heartbeat intervals", () => {
    const uptime = new UptimeAccumulator();
    uptime.opened("s1", t("2026-12-01T10:59:50Z"), 15);
    uptime.beat("s1", t("2026-12-01T11:00:05Z"), "playing");
    // 10 minutes of silence on an open stream: only the last 30 s count.
    uptime.beat("s1", t("2026-12-01T11:10:05Z"), "playing");
    expect(uptime.take()).toEqual([
      { screenId: "s1", hour: hour("2026-12-01T10:00:00Z"), playing: 10_000, displayOff: 0, idle: 0 },
      { screenId: "s1", hour: hour("2026-12-01T11:00:00Z"), playing: 35_000, displayOff: 0, idle: 0 },
    ]);
  });

  it("credits nothing after a stream closed or before it was seen open, and keeps failed writes for the next take", () => {
    const uptime = new UptimeAccumulator();
    uptime.beat("s2", t("2026-12-01T10:00:00Z"), "playing");
    uptime.opened("s1", t("2026-12-01T10:00:00Z"), 15);
    uptime.beat("s1", t("2026-12-01T10:00:15Z"), "playing");
    uptime.closed("s1");
    uptime.beat("s1", t("2026-12-01T10:00:30Z"), "playing");
    const taken = uptime.take();
    expect(taken).toEqual([
      { screenId: "s1", hour: hour("2026-12-01T10:00:00Z"), playing: 15_000, displayOff: 0, idle: 0 },
    ]);
    uptime.beat("s1", t("2026-12-01T10:00:45Z"), "playing");
    uptime.restore(taken);
    expect(uptime.take()).toEqual([
      { screenId: "s1", hour: hour("2026-12-01T10:00:00Z"), playing: 30_000, displayOff: 0, idle: 0 },
    ]);
  });

  it("counts PLAYING as playing, DISPLAY_OFF as display off, and every other state as idle", () => {
    expect(uptimeStateOf(PlaybackState.PLAYING)).toBe("playing");
    expect(uptimeStateOf(PlaybackState.DISPLAY_OFF)).toBe("displayOff");
    for (const state of [
      PlaybackState.STANDBY,
      PlaybackState.PAIRING,
      PlaybackState.RECOVERING,
      PlaybackState.UNSPECIFIED,
      undefined,
    ]) {
      expect(uptimeStateOf(state)).toBe("idle");
    }
  });
});
