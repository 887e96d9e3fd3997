import { PlayReportRowSchema, UptimeReportRowSchema } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { reportCsvPath } from "../../console/src/reports/csv.ts";
import { addDays, hoursOf, lastDays, localDate, zonedMidnight } from "../../console/src/reports/range.ts";
import {
  countTicks,
  formatSeconds,
  percent,
  playsOverTime,
  tenantZone,
  timeAxisLabels,
  topAssets,
  uptimeByScreen,
  zoneChoices,
} from "../../console/src/reports/shape.ts";

/** The Reports page's pure parts: local days in a zone, and report rows shaped into what the charts draw. */

const play = (fields: MessageInitShape<typeof PlayReportRowSchema>) => create(PlayReportRowSchema, fields);
const uptime = (fields: MessageInitShape<typeof UptimeReportRowSchema>) => create(UptimeReportRowSchema, fields);
const at = (iso: string) => timestampFromDate(new Date(iso));

describe("report ranges in a zone", () => {
  it("finds local midnight on both sides of Madrid's daylight-saving changes", () => {
    expect(zonedMidnight("2026-03-29", "Europe/Madrid").toISOString()).toBe("2026-03-28T23:00:00.000Z");
    expect(zonedMidnight("2026-03-30", "Europe/Madrid").toISOString()).toBe("2026-03-29T22:00:00.000Z");
    expect(zonedMidnight("2026-10-25", "Europe/Madrid").toISOString()).toBe("2026-10-24T22:00:00.000Z");
    expect(zonedMidnight("2026-10-26", "Europe/Madrid").toISOString()).toBe("2026-10-25T23:00:00.000Z");
    expect(zonedMidnight("2026-06-15", "Asia/Kolkata").toISOString()).toBe("2026-06-14T18:30:00.000Z");
    expect(zonedMidnight("2026-06-15", "UTC").toISOString()).toBe("2026-06-15T00:00:00.000Z");
  });

  it("dates an instant in the zone, which can be another day than in UTC", () => {
    const instant = new Date("2026-06-15T12:30:00Z");
    expect(localDate(instant, "UTC")).toBe("2026-06-15");
    expect(localDate(instant, "Pacific/Auckland")).toBe("2026-06-16");
    expect(localDate(new Date("2026-06-15T02:00:00Z"), "America/New_York")).toBe("2026-06-14");
    expect(addDays("2026-12-30", 3)).toBe("2027-01-02");
    expect(addDays("2026-03-01", -1)).toBe("2026-02-28");
  });

  it("covers the last days up to and including today, from local midnight to the next", () => {
    const range = lastDays(7, new Date("2026-12-06T10:15:00Z"), "Europe/Madrid");
    expect(range.dates).toEqual([
      "2026-11-30",
      "2026-12-01",
      "2026-12-02",
      "2026-12-03",
      "2026-12-04",
      "2026-12-05",
      "2026-12-06",
    ]);
    expect(range.start.toISOString()).toBe("2026-11-29T23:00:00.000Z");
    expect(range.end.toISOString()).toBe("2026-12-06T23:00:00.000Z");
    // Just before midnight UTC it is already tomorrow in Auckland.
    expect(lastDays(1, new Date("2026-12-06T23:30:00Z"), "Pacific/Auckland").dates).toEqual(["2026-12-07"]);
  });

  it("lists a range's hours as the server rounds them: 23 on the spring-forward day, whole hours in Kolkata", () => {
    const spring = {
      start: zonedMidnight("2026-03-29", "Europe/Madrid"),
      end: zonedMidnight("2026-03-30", "Europe/Madrid"),
    };
    expect(hoursOf(spring)).toHaveLength(23);
    const kolkata = {
      start: zonedMidnight("2026-06-15", "Asia/Kolkata"),
      end: zonedMidnight("2026-06-16", "Asia/Kolkata"),
    };
    const hours = hoursOf(kolkata);
    expect(hours).toHaveLength(24);
    expect(hours[0]?.toISOString()).toBe("2026-06-14T19:00:00.000Z");
  });
});

describe("plays over time", () => {
  const range = lastDays(3, new Date("2026-12-06T10:00:00Z"), "UTC");

  it("adds up every asset's plays per day and gives days without plays a zero bar", () => {
    const rows = [
      play({ id: "a", date: "2026-12-04", plays: 2n, secondsPlayed: 20 }),
      play({ id: "b", date: "2026-12-04", plays: 1n, secondsPlayed: 5.5 }),
      play({ id: "a", date: "2026-12-06", plays: 4n, secondsPlayed: 40 }),
      // Outside the range (a stale answer for another range): not drawn.
      play({ id: "a", date: "2026-12-01", plays: 9n, secondsPlayed: 90 }),
    ];
    expect(playsOverTime(rows, range, "day", "UTC")).toEqual([
      { key: "2026-12-04", label: "2026-12-04", plays: 3, seconds: 25.5 },
      { key: "2026-12-05", label: "2026-12-05", plays: 0, seconds: 0 },
      { key: "2026-12-06", label: "2026-12-06", plays: 4, seconds: 40 },
    ]);
  });

  it("puts hourly rows in their hour, labelled with the local date and time", () => {
    const today = lastDays(1, new Date("2026-12-06T10:00:00Z"), "Europe/Madrid");
    const rows = [
      play({ id: "a", date: "2026-12-06", bucketStart: at("2026-12-06T09:00:00Z"), plays: 2n, secondsPlayed: 20 }),
      play({ id: "b", date: "2026-12-06", bucketStart: at("2026-12-06T09:00:00Z"), plays: 1n, secondsPlayed: 10 }),
    ];
    const buckets = playsOverTime(rows, today, "hour", "Europe/Madrid");
    expect(buckets).toHaveLength(24);
    expect(buckets[0]).toEqual({ key: "2026-12-05T23:00:00.000Z", label: "2026-12-06 00:00", plays: 0, seconds: 0 });
    expect(buckets[10]).toEqual({ key: "2026-12-06T09:00:00.000Z", label: "2026-12-06 10:00", plays: 3, seconds: 30 });
    expect(buckets.reduce((sum, b) => sum + b.plays, 0)).toBe(3);
  });
});

describe("the timeline's axis labels", () => {
  const labels = (buckets: ReturnType<typeof playsOverTime>, room: number) => [...timeAxisLabels(buckets, room)];

  it("labels days with their date, every few days when there is no room for all", () => {
    const week = playsOverTime([], lastDays(7, new Date("2026-12-06T10:00:00Z"), "UTC"), "day", "UTC");
    expect(labels(week, 12)).toEqual([
      [0, "30 Nov"],
      [1, "1 Dec"],
      [2, "2 Dec"],
      [3, "3 Dec"],
      [4, "4 Dec"],
      [5, "5 Dec"],
      [6, "6 Dec"],
    ]);
    expect(labels(week, 3).map(([n]) => n)).toEqual([0, 3, 6]);
  });

  it("labels one day's hours every few hours, and several days' hours at their local midnights", () => {
    const today = playsOverTime(
      [],
      lastDays(1, new Date("2026-12-06T10:00:00Z"), "Europe/Madrid"),
      "hour",
      "Europe/Madrid",
    );
    expect(labels(today, 4)).toEqual([
      [0, "6 Dec"],
      [6, "06:00"],
      [12, "12:00"],
      [18, "18:00"],
    ]);
    const week = playsOverTime(
      [],
      lastDays(7, new Date("2026-12-06T10:00:00Z"), "Europe/Madrid"),
      "hour",
      "Europe/Madrid",
    );
    expect(week).toHaveLength(168);
    expect(labels(week, 18)).toEqual([
      [0, "30 Nov"],
      [24, "1 Dec"],
      [48, "2 Dec"],
      [72, "3 Dec"],
      [96, "4 Dec"],
      [120, "5 Dec"],
      [144, "6 Dec"],
    ]);
  });
});

describe("top assets", () => {
  const rows = [
    play({ id: "a", name: "Summer sale", date: "2026-12-04", plays: 2n, secondsPlayed: 20 }),
    play({ id: "a", name: "Summer sale", date: "2026-12-05", plays: 3n, secondsPlayed: 30 }),
    play({ id: "b", name: "Long film", date: "2026-12-05", plays: 1n, secondsPlayed: 120 }),
    play({ id: "c", name: "", date: "2026-12-05", plays: 4n, secondsPlayed: 8 }),
    play({ id: "", name: "", date: "2026-12-05", plays: 1n, secondsPlayed: 1 }),
  ];

  it("ranks assets by plays over the whole range, naming deleted and unreported clips", () => {
    const { assets, others } = topAssets(rows, "plays", 3);
    expect(assets.map((a) => [a.name, a.plays, a.seconds])).toEqual([
      ["Summer sale", 5, 50],
      ["Deleted clip c", 4, 8],
      ["Clip not reported by the screen", 1, 1],
    ]);
    expect(others).toBe(1);
  });

  it("ranks them by seconds played when asked", () => {
    expect(topAssets(rows, "seconds", 2).assets.map((a) => a.name)).toEqual(["Long film", "Summer sale"]);
  });
});

describe("screens by uptime", () => {
  it("adds up each screen's days, leaves untracked time out and lists the least playing first", () => {
    const rows = [
      uptime({
        screenId: "s1",
        screenName: "Lobby",
        date: "2026-12-05",
        playingSeconds: 80_000,
        offlineSeconds: 6_400,
      }),
      uptime({
        screenId: "s1",
        screenName: "Lobby",
        date: "2026-12-06",
        playingSeconds: 3_600,
        untrackedSeconds: 82_800,
      }),
      uptime({
        screenId: "s2",
        screenName: "Bar",
        date: "2026-12-06",
        playingSeconds: 1_800,
        displayOffSeconds: 900,
        idleSeconds: 300,
        offlineSeconds: 600,
        untrackedSeconds: 82_800,
      }),
      uptime({ screenId: "s3", screenName: "New", date: "2026-12-06", untrackedSeconds: 86_400 }),
    ];
    const screens = uptimeByScreen(rows);
    expect(screens.map((s) => s.name)).toEqual(["New", "Bar", "Lobby"]);
    expect(screens[1]).toEqual({
      screenId: "s2",
      name: "Bar",
      playing: 1_800,
      displayOff: 900,
      idle: 300,
      offline: 600,
      tracked: 3_600,
    });
    expect(screens[2]?.tracked).toBe(90_000);
    expect(percent(screens[2]?.playing ?? 0, screens[2]?.tracked ?? 0)).toBe(93);
    expect(percent(0, 0)).toBe(0);
  });
});

describe("the tenant's zone and the zone picker", () => {
  it("takes the zone most screens are in, alphabetically on a tie, and the browser's without screens", () => {
    expect(tenantZone(["Europe/Madrid", "UTC", "Europe/Madrid", ""], "Asia/Tokyo")).toBe("Europe/Madrid");
    expect(tenantZone(["UTC", "Europe/Madrid"], "Asia/Tokyo")).toBe("Europe/Madrid");
    expect(tenantZone([], "Asia/Tokyo")).toBe("Asia/Tokyo");
    expect(zoneChoices(["Europe/Madrid", "", "Europe/Madrid"], "Asia/Tokyo")).toEqual([
      "Asia/Tokyo",
      "Europe/Madrid",
      "UTC",
    ]);
  });
});

describe("chart and export helpers", () => {
  it("puts count gridlines on whole, round numbers, at most five steps up to the largest count", () => {
    expect(countTicks(0)).toEqual([0, 1]);
    expect(countTicks(3)).toEqual([0, 1, 2, 3]);
    expect(countTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(countTicks(10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(countTicks(11)).toEqual([0, 5, 10, 15]);
    expect(countTicks(999)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(countTicks(26_000)).toEqual([0, 10_000, 20_000, 30_000]);
  });

  it("spells out durations in at most two units", () => {
    expect([45, 250, 3_600, 7_500, 97_200].map(formatSeconds)).toEqual([
      "45 s",
      "4 min 10 s",
      "1 h",
      "2 h 5 min",
      "1 d 3 h",
    ]);
  });

  it("asks the CSV routes for the page's range, buckets and zone", () => {
    const query = {
      start: new Date("2026-11-29T23:00:00Z"),
      end: new Date("2026-12-06T23:00:00Z"),
      bucketing: "day" as const,
      zone: "Europe/Madrid",
    };
    const plays = new URL(reportCsvPath("plays", query), "http://x");
    expect(plays.pathname).toBe("/v1/reports/plays.csv");
    expect(Object.fromEntries(plays.searchParams)).toEqual({
      start: "2026-11-29T23:00:00.000Z",
      end: "2026-12-06T23:00:00.000Z",
      time_zone: "Europe/Madrid",
      granularity: "day",
      dimension: "asset",
    });
    const uptimeUrl = new URL(reportCsvPath("uptime", { ...query, bucketing: "hour" }), "http://x");
    expect(uptimeUrl.pathname).toBe("/v1/reports/uptime.csv");
    expect([...uptimeUrl.searchParams.keys()]).toEqual(["start", "end", "time_zone"]);
  });
});
