import { type FleetSimulator, startFleetSimulator } from "@avtech/fleet-sim";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { CommandKind } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService, SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { eventually } from "../lib/fleet-device.ts";
import { uploadMessages } from "../lib/upload.ts";
import { type FleetApp, startFleetApp } from "./fleet-app.ts";

describe("the control plane with the fleet plane on PostgreSQL", () => {
  let app: FleetApp;
  let clips: ClipFactory;
  let simulator: FleetSimulator | undefined;

  beforeAll(async () => {
    [app, clips] = await Promise.all([startFleetApp(), createClipFactory()]);
  });
  afterAll(async () => {
    await simulator?.stop();
    await app.close();
    await clips.remove();
  });

  it("enrolls 20 simulated screens, publishes an uploaded clip to them and sees every one SYNCED", async () => {
    const { adminToken } = await app.createTenant("e2e");
    const fleet = app.client(FleetService, adminToken);
    const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "lobby site" });
    simulator = await startFleetSimulator({
      baseUrl: app.addresses.http2Url,
      count: 20,
      enrollmentKey,
      hardwareIdPrefix: "e2e",
    });
    await simulator.whenConnected(20_000);
    expect((await fleet.listScreens({})).screens).toHaveLength(20);

    const path = await clips.video("e2e.mp4", { seconds: 2 });
    const { video } = await app
      .client(ContentService, adminToken)
      .uploadVideo(uploadMessages(path, { fileName: "e2e.mp4" }));
    if (!video) throw new Error("upload returned no video");
    const schedule = app.client(ScheduleService, adminToken);
    const { playlist } = await schedule.createPlaylist({ name: "Lobby loop", videoIds: [video.id] });
    await schedule.createRule({
      rule: {
        name: "always",
        target: { kind: { case: "wholeTenant", value: true } },
        playlistId: playlist?.id,
        enabled: true,
      },
    });
    const { results } = await app.client(PublishService, adminToken).publish({});
    expect(results).toHaveLength(20);
    expect(results.every((r) => r.changed && r.version === 1n)).toBe(true);

    await eventually(async () => {
      const { screens } = await fleet.listScreens({});
      return screens.length === 20 && screens.every((s) => s.syncStatus === SyncStatus.SYNCED);
    }, 20_000);

    // A screen fetches the clip over HTTP/1.1 with its device token; /metrics shows the streams.
    const screen = simulator.screens[0];
    const asset = await fetch(`${app.addresses.http1Url}/assets/${video.sha256}`, {
      headers: { authorization: `Bearer ${screen?.credentials?.deviceToken}` },
    });
    expect(asset.status).toBe(200);
    expect((await asset.arrayBuffer()).byteLength).toBe(Number(video.sizeBytes));
    const metrics = await (await fetch(`${app.addresses.http1Url}/metrics`)).text();
    expect(metrics).toMatch(/avtech_device_streams 20/);
    // Every screen applied version 1 once; the tenant's screens and stored bytes are read from the database.
    expect(metrics).toMatch(/avtech_syncs_applied_total 20/);
    expect(metrics).toMatch(/avtech_screens\{tenant="[^"]+"\} 20/);
    expect(metrics).toContain(`avtech_tenant_stored_bytes{tenant=`);

    // Fleet mutations land in the core's audit log with their actor and outcome.
    const target = (await fleet.listScreens({})).screens[0]?.id ?? "";
    await fleet.sendCommand({ screenIds: [target], kind: CommandKind.IDENTIFY });
    await fleet.revokeScreenToken({ id: target });
    await fleet.deleteScreen({ id: target });
    const audited = await app.db.orm.em
      .fork()
      .getConnection()
      .execute<{ action: string; result: string }[]>("select action, result from audit_events order by at");
    expect(audited.map((row) => row.action)).toEqual(
      expect.arrayContaining([
        "avtech.fleet.v1.FleetService/SendCommand",
        "avtech.fleet.v1.FleetService/RevokeScreenToken",
        "avtech.fleet.v1.FleetService/DeleteScreen",
      ]),
    );
    expect(audited.every((row) => row.result === "ok")).toBe(true);
  });
});
