import { AuditService } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { CommandKind } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FleetApp, startFleetApp } from "./fleet-app.ts";

describe("audit trail of fleet mutations", () => {
  let app: FleetApp;

  beforeAll(async () => {
    app = await startFleetApp();
  });
  afterAll(() => app.close());

  it("records each fleet mutation with its subject, snapshots and outcome", async () => {
    const { adminToken } = await app.createTenant("audited");
    const fleet = app.client(FleetService, adminToken);
    const audit = app.client(AuditService, adminToken);
    const eventsOf = async (subjectId: string) =>
      (await audit.listAuditEvents({ subjectId })).events.map((event) => ({
        action: event.action.split("/")[1],
        subjectType: event.subjectType,
        result: event.result,
        before: event.beforeJson ? (JSON.parse(event.beforeJson) as Record<string, unknown>) : undefined,
        after: event.afterJson ? (JSON.parse(event.afterJson) as Record<string, unknown>) : undefined,
      }));

    const { group } = await fleet.createGroup({ name: "Lobby" });
    const groupId = group?.id ?? "";
    expect(await eventsOf(groupId)).toEqual([
      { action: "CreateGroup", subjectType: "group", result: "ok", before: undefined, after: { name: "Lobby" } },
    ]);

    const { id: keyId, enrollmentKey } = await fleet.createEnrollmentKey({ name: "site", groupId });
    expect((await eventsOf(keyId)).map((e) => [e.action, e.subjectType, e.after?.name])).toEqual([
      ["CreateEnrollmentKey", "enrollment_key", "site"],
    ]);

    const registered = await app
      .client(DeviceService, "")
      .register({ hardwareId: "pi-audited", enrollmentKey, facts: { hostname: "lobby-1" } });
    if (registered.outcome.case !== "enrolled") throw new Error("the screen was not enrolled");
    const screenId = registered.outcome.value.deviceId;
    await fleet.revokeEnrollmentKey({ id: keyId });
    expect((await eventsOf(keyId)).map((e) => [e.action, e.subjectType, e.result])).toEqual([
      ["RevokeEnrollmentKey", "enrollment_key", "ok"],
      ["CreateEnrollmentKey", "enrollment_key", "ok"],
    ]);
    const { screen } = await fleet.getScreen({ id: screenId });
    await fleet.updateScreen({ id: screenId, etag: screen?.etag ?? "", name: "Lobby left", groupId, tags: ["ground"] });
    await expect(
      fleet.updateScreen({ id: screenId, etag: screen?.etag ?? "", name: "stale edit", groupId }),
    ).rejects.toThrow(/changed since you loaded it/);
    await fleet.sendCommand({ screenIds: [screenId], kind: CommandKind.IDENTIFY });
    await app.client(PublishService, adminToken).publish({
      targets: [{ kind: { case: "screenId", value: screenId } }],
    });
    await fleet.revokeScreenToken({ id: screenId });
    await fleet.deleteScreen({ id: screenId });

    const events = (await eventsOf(screenId)).reverse();
    expect(events.map((e) => [e.action, e.subjectType, e.result])).toEqual([
      ["UpdateScreen", "screen", "ok"],
      ["UpdateScreen", "screen", "aborted"],
      ["SendCommand", "screen", "ok"],
      ["Publish", "screen", "ok"],
      ["RevokeScreenToken", "screen", "ok"],
      ["DeleteScreen", "screen", "ok"],
    ]);
    const [update, stale, command, publish, , deletion] = events;
    expect(update?.before?.name).toBe("lobby-1");
    expect(update?.after).toMatchObject({ name: "Lobby left", groupId, tags: ["ground"] });
    expect(stale?.after).toBeUndefined();
    expect(command?.after?.kind).toBe("IDENTIFY");
    expect(publish?.after).toMatchObject({ dryRun: false, screens: 1 });
    expect(deletion?.before?.name).toBe("Lobby left");
  });

  it("records a claim under the new screen's id, and a failed claim under the id it would have had", async () => {
    const { adminToken } = await app.createTenant("claims");
    const fleet = app.client(FleetService, adminToken);
    const device = app.client(DeviceService, "");
    const registered = await device.register({ hardwareId: "pi-claimed", facts: { hostname: "pi" } });
    if (registered.outcome.case !== "pairing") throw new Error("expected a pairing code");
    const { screen } = await fleet.claimScreen({ pairingCode: registered.outcome.value.pairingCode, name: "Hall" });
    const [claim] = (await app.client(AuditService, adminToken).listAuditEvents({ subjectId: screen?.id ?? "" }))
      .events;
    expect(claim).toMatchObject({
      action: "avtech.fleet.v1.FleetService/ClaimScreen",
      subjectType: "screen",
      result: "ok",
    });
    expect(JSON.parse(claim?.afterJson ?? "{}")).toMatchObject({ name: "Hall", hardwareId: "pi-claimed" });

    await expect(fleet.claimScreen({ pairingCode: "BCDF-GHJK", name: "nobody" })).rejects.toThrow(/pairing code/);
    const { events } = await app.client(AuditService, adminToken).listAuditEvents({});
    const failed = events.find((event) => event.action.endsWith("/ClaimScreen") && event.result === "not_found");
    expect(failed?.subjectType).toBe("screen");
    expect(failed?.subjectId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
