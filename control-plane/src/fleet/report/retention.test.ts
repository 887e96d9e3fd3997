import { describe, expect, it } from "vitest";
import {
  maxFutureMs,
  parsePartition,
  partitionedTables,
  partitionFor,
  placeEvent,
  planPartitions,
  retentionBounds,
} from "./retention.ts";

const policy = { rawRetentionDays: 7, rollupRetentionMonths: 13 };
const at = (iso: string) => new Date(iso);
const [events, hourly] = partitionedTables as [(typeof partitionedTables)[0], (typeof partitionedTables)[0]];

describe("retention bounds", () => {
  it("keep raw events of the last 7 UTC days and today, count 13 months back to a month start, refuse more than a day ahead", () => {
    const bounds = retentionBounds(at("2026-12-06T18:30:00Z"), policy);
    expect(bounds.rawFrom).toEqual(at("2026-11-29T00:00:00Z"));
    expect(bounds.acceptFrom).toEqual(at("2025-11-01T00:00:00Z"));
    expect(bounds.acceptUntil.getTime() - at("2026-12-06T18:30:00Z").getTime()).toBe(maxFutureMs);
    expect(placeEvent(at("2026-11-29T00:00:00Z"), bounds)).toBe("raw");
    expect(placeEvent(at("2026-11-28T23:59:59Z"), bounds)).toBe("counted-only");
    expect(placeEvent(at("2025-11-01T00:00:00Z"), bounds)).toBe("counted-only");
    expect(placeEvent(at("2025-10-31T23:59:59Z"), bounds)).toBe("refused");
    expect(placeEvent(at("2026-12-07T18:30:00Z"), bounds)).toBe("raw");
    expect(placeEvent(at("2026-12-07T18:30:01Z"), bounds)).toBe("refused");
  });
});

describe("partition names", () => {
  it("name a partition after the UTC day or month it holds, and read the bounds back", () => {
    const day = partitionFor(events, at("2026-03-29T23:59:00+01:00"));
    expect(day).toEqual({
      table: "play_events",
      name: "play_events_d20260329",
      start: at("2026-03-29T00:00:00Z"),
      end: at("2026-03-30T00:00:00Z"),
    });
    const month = partitionFor(hourly, at("2026-12-31T23:00:00Z"));
    expect(month).toEqual({
      table: "play_hourly",
      name: "play_hourly_m202612",
      start: at("2026-12-01T00:00:00Z"),
      end: at("2027-01-01T00:00:00Z"),
    });
    expect(parsePartition(events, "play_events_d20260329")).toEqual(day);
    expect(parsePartition(hourly, "play_hourly_m202612")).toEqual(month);
    // Names this scheme did not make are not ours to drop.
    expect(parsePartition(events, "play_events_d20260230")).toBeUndefined();
    expect(parsePartition(events, "play_events_old")).toBeUndefined();
    expect(parsePartition(hourly, "play_group_clip_hourly_m202612")).toBeUndefined();
  });
});

describe("planPartitions", () => {
  const now = at("2026-12-06T10:00:00Z");
  const names = (list: { name: string }[]) => list.map((partition) => partition.name);

  it("creates every raw day from the retention start to three days ahead and every rollup month kept plus the next", () => {
    const plan = planPartitions(new Map(), now, policy);
    const days = names(plan.create.filter((p) => p.table === "play_events"));
    expect(days[0]).toBe("play_events_d20261129");
    expect(days.at(-1)).toBe("play_events_d20261209");
    expect(days).toHaveLength(11);
    for (const table of [
      "play_hourly",
      "play_screen_hourly",
      "play_group_clip_hourly",
      "play_group_hourly",
      "play_tenant_hourly",
      "screen_uptime_hourly",
    ]) {
      const months = names(plan.create.filter((p) => p.table === table));
      expect(months[0]).toBe(`${table}_m202511`);
      expect(months.at(-1)).toBe(`${table}_m202701`);
      expect(months).toHaveLength(15);
    }
    expect(plan.drop).toEqual([]);
  });

  it("creates only what is missing, and drops whole partitions a day after they expire, never foreign ones", () => {
    const existing = new Map([
      [
        "play_events",
        [
          "play_events_d20261127", // ended 11-28: more than a day before the retention start (11-29): dropped
          "play_events_d20261128", // ended 11-29, the retention start: kept one more day (grace)
          "play_events_d20261129",
          "play_events_archive", // not a name this scheme makes: left alone
        ],
      ],
      ["play_hourly", ["play_hourly_m202509", "play_hourly_m202510", "play_hourly_m202511"]],
    ]);
    const plan = planPartitions(existing, now, policy);
    // Rollup months kept: 2025-11 on (13 months before December); September and October go.
    expect(names(plan.drop)).toEqual(["play_hourly_m202509", "play_hourly_m202510", "play_events_d20261127"]);
    expect(names(plan.create)).not.toContain("play_events_d20261129");
    expect(names(plan.create)).not.toContain("play_hourly_m202511");
    // A day later the grace is over for 11-28.
    const later = planPartitions(existing, at("2026-12-07T10:00:00Z"), policy);
    expect(names(later.drop)).toEqual([
      "play_hourly_m202509",
      "play_hourly_m202510",
      "play_events_d20261127",
      "play_events_d20261128",
    ]);
    // November 2025 goes a day into January 2027 (13 whole months before it), not at midnight.
    expect(names(planPartitions(existing, at("2027-01-01T12:00:00Z"), policy).drop)).not.toContain(
      "play_hourly_m202511",
    );
    expect(names(planPartitions(existing, at("2027-01-02T01:00:00Z"), policy).drop)).toContain("play_hourly_m202511");
  });
});
