import { describe, expect, it } from "vitest";
import { evaluateSchedule, horizonDays, type RuleTiming } from "./evaluate.ts";
import { ruleProblems } from "./validate.ts";

const madrid = "Europe/Madrid";
const mon = 1;
const tue = 2;
const wed = 3;
const thu = 4;
const fri = 5;
const sun = 7;

function rule(id: string, fields: Partial<Omit<RuleTiming, "id">> & { from?: string; to?: string }): RuleTiming {
  const { from, to, ...rest } = fields;
  return {
    id,
    playlistId: fields.playlistId ?? `playlist-${id}`,
    priority: 0,
    daysOfWeek: [],
    startDate: fields.startDate,
    endDate: fields.endDate,
    window:
      from && to
        ? { $typeName: "avtech.device.v1.TimeWindow", startMinute: minutes(from), endMinute: minutes(to) }
        : undefined,
    ...rest,
  };
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

function date(iso: string) {
  const [year, month, day] = iso.split("-").map(Number);
  return { $typeName: "avtech.device.v1.LocalDate" as const, year: year ?? 0, month: month ?? 0, day: day ?? 0 };
}

const weekdayMornings = rule("morning", {
  from: "06:00",
  to: "12:00",
  daysOfWeek: [mon, tue, wed, thu, fri],
  priority: 1,
});
const nights = rule("night", { from: "22:00", to: "02:00", priority: 1 });
const fridayLate = rule("friday-late", { from: "23:00", to: "03:00", daysOfWeek: [fri], priority: 5 });
const advent = rule("advent", { startDate: date("2026-12-01"), endDate: date("2026-12-24"), priority: 10 });
const rules = [weekdayMornings, nights, fridayLate, advent];

describe("evaluateSchedule", () => {
  const cases: Array<{
    name: string;
    at: string;
    ruleId?: string;
    playlistId?: string;
    next: string;
    rules?: RuleTiming[];
  }> = [
    {
      name: "a weekday morning window is active inside it, until its end",
      at: "2026-11-23T06:00:00Z", // Monday 07:00 CET
      ruleId: "morning",
      next: "2026-11-23T11:00:00Z", // 12:00 CET
    },
    {
      name: "the window start is inclusive",
      at: "2026-11-23T05:00:00Z", // Monday 06:00 CET
      ruleId: "morning",
      next: "2026-11-23T11:00:00Z",
    },
    {
      name: "the window end is exclusive and the default plays after it",
      at: "2026-11-23T11:00:00Z",
      playlistId: "default",
      next: "2026-11-23T21:00:00Z", // 22:00 CET nights
    },
    {
      name: "a day outside days_of_week falls back to the default playlist",
      at: "2026-11-28T06:00:00Z", // Saturday 07:00 CET
      playlistId: "default",
      next: "2026-11-28T21:00:00Z",
    },
    {
      name: "a window crossing midnight stays active after midnight",
      at: "2026-11-24T00:30:00Z", // Tuesday 01:30 CET, from Monday 22:00
      ruleId: "night",
      next: "2026-11-24T01:00:00Z", // 02:00 CET
    },
    {
      name: "the part after midnight belongs to the day the window started (Friday's late window on Saturday)",
      at: "2026-11-28T01:00:00Z", // Saturday 02:00 CET
      ruleId: "friday-late",
      next: "2026-11-28T02:00:00Z", // 03:00 CET
    },
    {
      name: "a midnight-crossing window of Friday does not apply after Thursday's midnight",
      at: "2026-11-27T01:30:00Z", // Friday 02:30 CET: only Thursday's night window could be active, and it ended at 02:00
      playlistId: "default",
      next: "2026-11-27T05:00:00Z", // Friday 06:00 CET morning
    },
    {
      name: "the higher priority wins where windows overlap",
      at: "2026-11-27T22:30:00Z", // Friday 23:30 CET: night (1) and friday-late (5)
      ruleId: "friday-late",
      next: "2026-11-28T01:00:00Z", // night ends 02:00 CET
    },
    {
      name: "a date range is inclusive of its last day",
      at: "2026-12-24T22:59:00Z", // 24 Dec 23:59 CET
      ruleId: "advent",
      next: "2026-12-24T23:00:00Z",
    },
    {
      name: "after the last day of a date range the rule no longer applies",
      at: "2026-12-24T23:00:00Z", // 25 Dec 00:00 CET, nights still on
      ruleId: "night",
      next: "2026-12-25T01:00:00Z",
    },
    {
      name: "spring forward: a window starting in the DST gap opens shifted forward by the gap (02:30 → 03:30 CEST)",
      rules: [rule("gap-start", { from: "02:30", to: "04:00", daysOfWeek: [sun] })],
      at: "2026-03-29T01:00:00Z", // 03:00 CEST, right after the jump
      playlistId: "default",
      next: "2026-03-29T01:30:00Z", // 03:30 CEST
    },
    {
      name: "spring forward: the shifted window is active and still ends at 04:00 CEST",
      rules: [rule("gap-start", { from: "02:30", to: "04:00", daysOfWeek: [sun] })],
      at: "2026-03-29T01:30:00Z",
      ruleId: "gap-start",
      next: "2026-03-29T02:00:00Z",
    },
    {
      name: "spring forward: a window whose shifted start passes its end never opens that night",
      rules: [
        rule("in-gap", { from: "02:50", to: "03:10", startDate: date("2026-03-29"), endDate: date("2026-03-29") }),
      ],
      at: "2026-03-29T00:30:00Z",
      playlistId: "default",
      next: "2026-04-05T00:30:00Z", // nothing will change: the horizon
    },
    {
      name: "spring forward: a midnight-crossing window ending in the gap ends shifted (02:30 → 03:30 CEST)",
      rules: [rule("late", { from: "22:00", to: "02:30" })],
      at: "2026-03-29T00:45:00Z", // 01:45 CET
      ruleId: "late",
      next: "2026-03-29T01:30:00Z",
    },
    {
      name: "fall back: a repeated local time starts at its first occurrence",
      rules: [rule("overlap", { from: "02:30", to: "06:00", daysOfWeek: [sun] })],
      at: "2026-10-25T00:00:00Z", // 02:00 CEST
      playlistId: "default",
      next: "2026-10-25T00:30:00Z", // first 02:30 (CEST)
    },
    {
      name: "fall back: the window lasts through the repeated hour and ends at 06:00 CET",
      rules: [rule("overlap", { from: "02:30", to: "06:00", daysOfWeek: [sun] })],
      at: "2026-10-25T01:45:00Z", // second 02:45 (CET)
      ruleId: "overlap",
      next: "2026-10-25T05:00:00Z",
    },
    {
      name: "equal priorities are decided by the smaller rule id",
      rules: [rule("b", { priority: 3 }), rule("a", { priority: 3 })],
      at: "2026-11-23T12:00:00Z",
      ruleId: "a",
      next: "2026-12-01T23:00:00Z", // always on: re-evaluated at the end of the scanned days
    },
    {
      name: "a rule starting beyond the horizon is the next change",
      rules: [rule("summer", { startDate: date("2027-06-01"), from: "09:00", to: "10:00" })],
      at: "2026-11-23T12:00:00Z",
      playlistId: "default",
      next: "2027-06-01T07:00:00Z", // 09:00 CEST
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const decision = evaluateSchedule(
        { rules: c.rules ?? rules, defaultPlaylistId: "default", timezone: madrid },
        new Date(c.at),
      );
      expect(decision.ruleId).toBe(c.ruleId);
      expect(decision.playlistId).toBe(c.playlistId ?? `playlist-${c.ruleId}`);
      expect(decision.nextChangeAt.toISOString()).toBe(new Date(c.next).toISOString());
    });
  }

  it("shows the standby slate (no playlist) when nothing is scheduled and there is no default", () => {
    const at = new Date("2026-11-23T12:00:00Z");
    const decision = evaluateSchedule({ rules: [], defaultPlaylistId: "", timezone: madrid }, at);
    expect(decision).toEqual({
      playlistId: undefined,
      ruleId: undefined,
      nextChangeAt: new Date(at.getTime() + horizonDays * 86_400_000),
    });
  });

  it("evaluates in the screen's zone: the same instant is a different daypart in another zone", () => {
    const at = new Date("2026-11-23T04:00:00Z"); // 05:00 in Madrid, 09:30 in Kolkata
    const morning = [rule("m", { from: "09:00", to: "10:00" })];
    expect(evaluateSchedule({ rules: morning, defaultPlaylistId: "", timezone: madrid }, at).ruleId).toBeUndefined();
    expect(evaluateSchedule({ rules: morning, defaultPlaylistId: "", timezone: "Asia/Kolkata" }, at).ruleId).toBe("m");
  });

  it("follows a whole day of dayparts by stepping from change to change", () => {
    const timeline: string[] = [];
    let at = new Date("2026-11-23T00:00:00Z"); // Monday 01:00 CET
    const end = new Date("2026-11-24T00:00:00Z");
    while (at < end) {
      const decision = evaluateSchedule({ rules, defaultPlaylistId: "default", timezone: madrid }, at);
      timeline.push(`${at.toISOString().slice(11, 16)} ${decision.playlistId}`);
      at = decision.nextChangeAt;
    }
    expect(timeline).toEqual([
      "00:00 playlist-night", // Sunday's window, until 02:00 CET
      "01:00 default",
      "05:00 playlist-morning",
      "11:00 default",
      "21:00 playlist-night",
    ]);
  });
});

describe("ruleProblems", () => {
  it("accepts a valid rule", () => {
    expect(ruleProblems(weekdayMornings)).toEqual([]);
  });
  it("refuses an end date before the start date", () => {
    expect(ruleProblems(rule("x", { startDate: date("2026-05-02"), endDate: date("2026-05-01") }))).toEqual([
      "end_date is before start_date: the rule would never apply",
    ]);
  });
  it("refuses impossible dates, days and minutes with messages that say what to use", () => {
    const problems = ruleProblems(
      rule("x", {
        startDate: date("2026-02-30"),
        daysOfWeek: [0, 8],
        window: { $typeName: "avtech.device.v1.TimeWindow", startMinute: 1440, endMinute: 0 },
      }),
    );
    expect(problems).toEqual([
      "start_date is not a real calendar date",
      "days_of_week contains 0: use 1 (Monday) to 7 (Sunday)",
      "days_of_week contains 8: use 1 (Monday) to 7 (Sunday)",
      "window.start_minute 1440 is past 23:59: use 0..1439",
      "window.end_minute 0 is out of range: use 1..1440",
    ]);
  });
});
