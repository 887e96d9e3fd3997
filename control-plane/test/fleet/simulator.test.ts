import { type FleetSimulator, startFleetSimulator } from "@avtech/fleet-sim";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../lib/fleet-device.ts";
import { type FleetTestServer, startFleetTestServer } from "../lib/fleet-server.ts";

describe.each(["connect", "lean"] as const)("50 simulated screens (%s streams) against the real server", (streams) => {
  let server: FleetTestServer;
  let simulator: FleetSimulator;

  beforeAll(async () => {
    // All simulated screens share one address; the per-IP limit is the subject of pairing.test.ts.
    const unlimited = { burst: 1_000_000, perSecond: 1_000_000 };
    server = await startFleetTestServer({ rateLimits: { perIp: unlimited, global: unlimited } });
    const { enrollmentKey } = await server.fleet().createEnrollmentKey({ name: "simulated site" });
    simulator = await startFleetSimulator({
      baseUrl: server.baseUrl,
      count: 50,
      enrollmentKey,
      streamsPerConnection: 10,
      streams,
    });
    await simulator.whenConnected(10_000);
  });
  afterAll(async () => {
    await simulator?.stop();
    await server?.close();
  });

  it("enrolls all 50, pushes one publish to every screen and sees every ack", async () => {
    expect(server.plane.registry.size).toBe(50);
    server.stores.publishSources.setDefaultPlaylist("tenant-a", [
      { videoId: "v", sha256: "f".repeat(64), durationMs: 5000, sizeBytes: 10n, contentType: "video/mp4" },
    ]);
    const { results } = await server.publish().publish({ targets: [{ kind: { case: "wholeTenant", value: true } }] });
    expect(results).toHaveLength(50);
    expect(results.every((r) => r.version === 1n && r.changed)).toBe(true);
    await eventually(() => simulator.screens.every((screen) => screen.appliedVersion === 1n));
    await eventually(async () => {
      const { screens } = await server.fleet().listScreens({ pageSize: 100 });
      return screens.length === 50 && screens.every((s) => s.syncStatus === SyncStatus.SYNCED);
    });
    expect(simulator.stats().streamErrors).toBe(0);
    expect(await server.metrics.getSingleMetricAsString("avtech_publish_to_ack_seconds")).toContain("_count 50");
  });

  it("answers a command and keeps heartbeating", async () => {
    const [first] = simulator.screens;
    const { screens } = await server.fleet().listScreens({ pageSize: 100 });
    const target = screens.find((screen) => screen.hardwareId === first?.hardwareId);
    const { commands } = await server
      .fleet()
      .sendCommand({ screenIds: [target?.id ?? ""], kind: CommandKind.IDENTIFY });
    await eventually(async () => {
      const listed = await server.fleet().listCommands({ screenId: target?.id ?? "" });
      return listed.commands.some(
        (c) => c.command?.commandId === commands[0]?.command?.commandId && c.status === CommandStatus.SUCCEEDED,
      );
    });
    expect(simulator.stats().commandsAnswered).toBe(1);
    expect(server.stores.statuses.rows.get(target?.id ?? "")?.lastHealth?.displayConnected).toBe(true);
  });
});
