import type { WatchFleetResponse } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { ConnectionState } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { enrollScreen, eventually, openStream } from "../lib/fleet-device.ts";
import { type FleetTestServer, startFleetTestServer } from "../lib/fleet-server.ts";

describe("WatchFleet", () => {
  let server: FleetTestServer;

  beforeEach(async () => {
    // Flushed by hand below, so the batching is deterministic.
    server = await startFleetTestServer({ broadcastFlushMs: 3_600_000 });
  });
  afterEach(() => server.close());

  it("streams a snapshot, then coalesced upserts and removals of the caller's tenant only", async () => {
    const existing = await enrollScreen(server, "pi-1");
    await enrollScreen(server, "pi-other", "tenant-b");
    const abort = new AbortController();
    const events: WatchFleetResponse[] = [];
    const watching = (async () => {
      for await (const event of server.fleet().watchFleet({}, { signal: abort.signal })) events.push(event);
    })().catch(() => undefined);
    await eventually(() => events.length === 1);
    const snapshot = events[0]?.event;
    expect(snapshot?.case === "snapshot" && snapshot.value.screens.map((s) => s.hardwareId)).toEqual(["pi-1"]);

    const stream = openStream(server.device(), existing.deviceToken);
    await stream.next();
    for (let i = 0; i < 5; i++) stream.send({ case: "heartbeat", value: { health: { cpuLoadPercent: i } } });
    await eventually(
      async () => (await server.stores.statuses.get(existing.deviceId))?.lastHealth?.cpuLoadPercent === 4,
    );
    await server.plane.broadcaster.flush();
    await eventually(() => events.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Six changes (connect + five heartbeats) in one batch: one upsert with the latest state.
    expect(events).toHaveLength(2);
    expect(events[1]?.event.case === "upsert" && events[1].event.value).toMatchObject({
      hardwareId: "pi-1",
      connection: ConnectionState.ONLINE,
      lastHealth: { cpuLoadPercent: 4 },
    });

    await server.fleet().deleteScreen({ id: existing.deviceId });
    await server.plane.broadcaster.flush();
    await eventually(() =>
      events.some((e) => e.event.case === "removedScreenId" && e.event.value === existing.deviceId),
    );
    expect(events.every((e) => e.event.case !== "upsert" || e.event.value.hardwareId === "pi-1")).toBe(true);
    abort.abort();
    await watching;
  });
});
