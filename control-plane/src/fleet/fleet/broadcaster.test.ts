import { ScreenSchema } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FleetBroadcaster, type FleetChange } from "./broadcaster.ts";

describe("FleetBroadcaster", () => {
  it("reads each changed screen once per flush and delivers it to every watcher of the tenant only", async () => {
    const reads: string[][] = [];
    let revision = 0;
    const broadcaster = new FleetBroadcaster(async (_tenant, ids) => {
      reads.push([...ids]);
      revision++;
      return ids.map((id) => create(ScreenSchema, { id, name: `rev ${revision}` }));
    }, 60_000);
    const a1 = broadcaster.subscribe("a");
    const a2 = broadcaster.subscribe("a");
    const b = broadcaster.subscribe("b");
    for (let i = 0; i < 10; i++) broadcaster.changed("a", "s1");
    broadcaster.changed("a", "s2");
    broadcaster.changed("c", "unwatched");
    await broadcaster.flush();
    expect(reads).toEqual([["s1", "s2"]]);
    expect(a1.changes.size).toBe(2);
    expect(a2.changes.size).toBe(2);
    expect(b.changes.size).toBe(0);

    broadcaster.changed("a", "s1");
    await broadcaster.flush();
    broadcaster.removed("a", "s2");
    await broadcaster.flush();
    // a1 never read: its queue holds the latest view of s1 (coalesced) and the removal of s2.
    a1.unsubscribe();
    const seen: FleetChange[] = [];
    for await (const change of a1.changes) seen.push(change);
    expect(seen).toEqual([
      { kind: "upsert", screen: expect.objectContaining({ id: "s1", name: "rev 2" }) },
      { kind: "removed", screenId: "s2" },
    ]);
    broadcaster.close();
  });
});
