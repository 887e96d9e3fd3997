import { CommandKind } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStream } from "../lib/fleet-device.ts";
import { type FleetApp, startFleetApp } from "./fleet-app.ts";

/**
 * The fleet settings of the validated configuration reach the assembled fleet plane (config →
 * assemble.ts → fleet wiring), seen from outside: in Welcome, in a pairing ticket and in a command.
 */
describe("fleet settings from the configuration file and environment", () => {
  let app: FleetApp;
  const files: string[] = [];

  beforeAll(async () => {
    app = await startFleetApp({
      env: { AVTECH_CONFIG: "/etc/avtech/control-plane.json", AVTECH_HEARTBEAT_INTERVAL_SECONDS: "7" },
      readFile: (path) => {
        files.push(path);
        return JSON.stringify({
          fleet: { heartbeatIntervalSeconds: 60, pairingTtlSeconds: 120, commandTtlSeconds: 90 },
        });
      },
    });
  });
  afterAll(() => app?.close());

  it("sets the heartbeat interval screens are told, the pairing-code lifetime and the default command TTL", async () => {
    expect(files).toEqual(["/etc/avtech/control-plane.json"]);
    const { adminToken } = await app.createTenant("configured");
    const fleet = app.client(FleetService, adminToken);
    const device = createClient(DeviceService, createGrpcTransport({ baseUrl: app.addresses.http2Url }));

    // pairingTtlSeconds from the file.
    const before = Date.now();
    const pairing = await device.register({ hardwareId: "pi-config-pairing" });
    const after = Date.now();
    if (pairing.outcome.case !== "pairing" || !pairing.outcome.value.expiresAt) throw new Error("expected a ticket");
    const expiresMs = timestampDate(pairing.outcome.value.expiresAt).getTime();
    expect(expiresMs).toBeGreaterThanOrEqual(before + 120_000);
    expect(expiresMs).toBeLessThanOrEqual(after + 120_000);

    // heartbeatIntervalSeconds from the environment, over the file's 60.
    const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "configured site" });
    const enrolled = await device.register({ hardwareId: "pi-config-1", enrollmentKey });
    if (enrolled.outcome.case !== "enrolled") throw new Error("expected enrollment");
    const stream = openStream(device, enrolled.outcome.value.deviceToken);
    try {
      const welcome = await stream.next();
      if (welcome.message.case !== "welcome") throw new Error(`expected welcome, got ${welcome.message.case}`);
      expect(welcome.message.value.config?.heartbeatIntervalSeconds).toBe(7);
    } finally {
      stream.hangUp();
    }

    // commandTtlSeconds from the file, for a command sent without ttl_seconds.
    const { commands } = await fleet.sendCommand({
      screenIds: [enrolled.outcome.value.deviceId],
      kind: CommandKind.IDENTIFY,
    });
    const command = commands[0]?.command;
    if (!command?.issuedAt || !command.expiresAt) throw new Error("expected an issued command");
    expect(timestampDate(command.expiresAt).getTime() - timestampDate(command.issuedAt).getTime()).toBe(90_000);
  });
});
