import { DayOfWeek, type DisplayHours, DisplayHoursSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { evaluateDisplayHours } from "./index.ts";

const hours = (...entries: MessageInitShape<typeof DisplayHoursSchema>[]): DisplayHours[] =>
  entries.map((e) => create(DisplayHoursSchema, e));
const weekdays = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY];
const madrid = "Europe/Madrid";

describe("evaluateDisplayHours", () => {
  it("is always on without display hours", () => {
    expect(evaluateDisplayHours([], madrid, new Date("2026-11-20T03:00:00Z"))).toEqual({
      on: true,
      nextChangeAt: undefined,
    });
  });

  it("follows a weekday window in the screen's time zone, with the next boundary", () => {
    const h = hours({ daysOfWeek: weekdays, window: { startMinute: 8 * 60, endMinute: 20 * 60 } });
    // Friday 2026-11-20, Madrid is UTC+1: 07:59 local is off until 08:00 local.
    expect(evaluateDisplayHours(h, madrid, new Date("2026-11-20T06:59:00Z"))).toEqual({
      on: false,
      nextChangeAt: new Date("2026-11-20T07:00:00Z"),
    });
    expect(evaluateDisplayHours(h, madrid, new Date("2026-11-20T07:00:00Z"))).toEqual({
      on: true,
      nextChangeAt: new Date("2026-11-20T19:00:00Z"),
    });
    // Friday 20:00 local: off over the weekend until Monday 08:00.
    expect(evaluateDisplayHours(h, madrid, new Date("2026-11-20T19:00:00Z"))).toEqual({
      on: false,
      nextChangeAt: new Date("2026-11-23T07:00:00Z"),
    });
  });

  it("keeps a window that crosses midnight on the day it started, across a DST change", () => {
    // Saturdays 22:00-02:00; 2026-10-24 is the Saturday before Madrid leaves summer time (UTC+2 → +1).
    const h = hours({ daysOfWeek: [DayOfWeek.SATURDAY], window: { startMinute: 22 * 60, endMinute: 2 * 60 } });
    expect(evaluateDisplayHours(h, madrid, new Date("2026-10-24T20:00:00Z"))).toEqual({
      on: true,
      // 02:00 happens twice that night (03:00 CEST → 02:00 CET): the first one counts, as for rules.
      nextChangeAt: new Date("2026-10-25T00:00:00Z"),
    });
    expect(evaluateDisplayHours(h, madrid, new Date("2026-10-25T00:30:00Z")).on).toBe(false);
    // Sunday 22:00 is not in the list.
    expect(evaluateDisplayHours(h, madrid, new Date("2026-10-25T21:30:00Z")).on).toBe(false);
  });

  it("is on while any of several entries is", () => {
    const h = hours(
      { window: { startMinute: 9 * 60, endMinute: 12 * 60 } },
      { window: { startMinute: 11 * 60, endMinute: 14 * 60 } },
    );
    expect(evaluateDisplayHours(h, "UTC", new Date("2026-11-20T13:00:00Z"))).toEqual({
      on: true,
      nextChangeAt: new Date("2026-11-20T14:00:00Z"),
    });
    expect(evaluateDisplayHours(h, "UTC", new Date("2026-11-20T14:00:00Z")).on).toBe(false);
  });
});
