import { ConnectionState, ScreenSchema, WatchFleetResponseSchema } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { RuleSchema } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FleetStore } from "../../console/src/fleet/fleet-store.ts";
import { precheckDuration, precheckFile } from "../../console/src/library/precheck.ts";
import { moveItem } from "../../console/src/playlists/reorder.ts";
import { weekBlocks } from "../../console/src/schedules/week.ts";

/** A frame scheduler the test runs by hand. */
function manualFrames() {
  const pending: (() => void)[] = [];
  return {
    schedule: (cb: () => void) => void pending.push(cb),
    run: () => {
      for (const cb of pending.splice(0)) cb();
    },
    get count() {
      return pending.length;
    },
  };
}

const screen = (id: string, name: string) => create(ScreenSchema, { id, name, connection: ConnectionState.ONLINE });
const snapshot = (...screens: ReturnType<typeof screen>[]) =>
  create(WatchFleetResponseSchema, { event: { case: "snapshot", value: { screens } } });
const upsert = (s: ReturnType<typeof screen>) =>
  create(WatchFleetResponseSchema, { event: { case: "upsert", value: s } });

describe("FleetStore", () => {
  it("publishes at most once per frame however many events arrive", () => {
    const frames = manualFrames();
    const store = new FleetStore(frames.schedule);
    let published = 0;
    store.subscribe(() => published++);
    store.apply(snapshot(screen("a", "Alpha"), screen("b", "Bravo")));
    for (let i = 0; i < 1000; i++) store.apply(upsert(screen("a", "Alpha")));
    expect(frames.count).toBe(1);
    expect(published).toBe(0);
    frames.run();
    expect(published).toBe(1);
    expect(store.getView()).toMatchObject({ ready: true, order: ["a", "b"] });
  });

  it("keeps the order by name through inserts, renames and removals", () => {
    const frames = manualFrames();
    const store = new FleetStore(frames.schedule);
    store.apply(snapshot(screen("1", "Store 10"), screen("2", "Store 9")));
    frames.run();
    // Numeric collation: 9 before 10.
    expect(store.getView().order).toEqual(["2", "1"]);
    store.apply(upsert(screen("3", "Store 1")));
    store.apply(upsert(screen("2", "Store 99")));
    store.apply(create(WatchFleetResponseSchema, { event: { case: "removedScreenId", value: "1" } }));
    frames.run();
    expect(store.getView().order).toEqual(["3", "2"]);
    expect(store.getView().screens.get("2")?.name).toBe("Store 99");
  });

  it("publishes a new view object per change and ignores keep-alives", () => {
    const frames = manualFrames();
    const store = new FleetStore(frames.schedule);
    store.apply(snapshot(screen("a", "Alpha")));
    frames.run();
    const before = store.getView();
    store.apply(create(WatchFleetResponseSchema, { event: { case: "keepAlive", value: {} } }));
    expect(frames.count).toBe(0);
    store.apply(upsert(screen("a", "Alpha renamed")));
    frames.run();
    expect(store.getView()).not.toBe(before);
    expect(store.getView().version).toBe(before.version + 1);
    expect(store.getView().screens.get("a")?.name).toBe("Alpha renamed");
  });
});

describe("upload pre-checks", () => {
  const usage = {
    usedBytes: 900n,
    quotaBytes: 1000n,
    maxUploadBytes: 500n,
    videoCount: 1,
    minDurationMs: 1000,
    maxDurationMs: 60_000,
  } as Parameters<typeof precheckFile>[1];

  it("explains a wrong type, an oversized file and a full quota in words", () => {
    expect(precheckFile({ name: "a.txt", type: "text/plain", size: 10 }, usage, 0)).toMatch(/not a video file/);
    expect(precheckFile({ name: "a.mp4", type: "video/mp4", size: 600 }, usage, 0)).toMatch(/largest accepted/);
    expect(precheckFile({ name: "a.mp4", type: "video/mp4", size: 80 }, usage, 50)).toMatch(/Not enough storage/);
    expect(precheckFile({ name: "a.mkv", type: "", size: 80 }, usage, 0)).toBeUndefined();
  });

  it("checks the duration read in the browser against the server's limits", () => {
    expect(precheckDuration(400, usage)).toBe("The clip lasts 0.4 s; clips must last at least 1 s.");
    expect(precheckDuration(61_000, usage)).toMatch(/at most 1:00/);
    expect(precheckDuration(30_000, usage)).toBeUndefined();
  });
});

describe("playlist reordering", () => {
  it("moves one item and clamps out-of-range targets", () => {
    expect(moveItem(["a", "b", "c"], 2, 0)).toEqual(["c", "a", "b"]);
    expect(moveItem(["a", "b", "c"], 0, 9)).toEqual(["b", "c", "a"]);
    expect(moveItem(["a", "b"], 5, 0)).toEqual(["a", "b"]);
  });
});

describe("week layout", () => {
  it("splits a window that crosses midnight onto the next day, Sunday onto Monday", () => {
    const rule = create(RuleSchema, { id: "r", daysOfWeek: [7], window: { startMinute: 1320, endMinute: 120 } });
    expect(weekBlocks([rule]).map(({ day, startMinute, endMinute }) => ({ day, startMinute, endMinute }))).toEqual([
      { day: 7, startMinute: 1320, endMinute: 1440 },
      { day: 1, startMinute: 0, endMinute: 120 },
    ]);
  });

  it("fills every day all day for a rule without days or window", () => {
    const blocks = weekBlocks([create(RuleSchema, { id: "r" })]);
    expect(blocks).toHaveLength(7);
    expect(blocks.every((b) => b.startMinute === 0 && b.endMinute === 1440)).toBe(true);
  });
});
