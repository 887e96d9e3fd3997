/**
 * The alert engine as main.ts runs it: assembled with the control plane, started on its own timer
 * from the configuration, with nothing in the test calling it. A screen's problem reaches a real
 * webhook receiver, signed, within a few seconds.
 */
import { createHmac, randomUUID } from "node:crypto";
import { AlertService } from "@avtech/proto/gen/avtech/alert/v1/alert_pb.js";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FleetApp, startFleetApp } from "../fleet-pg/fleet-app.ts";
import { eventually, openStream, type TestStream } from "../lib/fleet-device.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./receivers.ts";

describe("the assembled control plane's alert engine", () => {
  let app: FleetApp;
  let receiver: WebhookReceiver;
  let sessions: Http2SessionManager;
  let stream: TestStream;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    app = await startFleetApp({
      env: { AVTECH_CONFIG: "/alerts.json", AVTECH_ALERT_EVALUATE_SECONDS: "1" },
      readFile: () => JSON.stringify({ alerts: { groupWindowSeconds: 0 } }),
    });
    sessions = new Http2SessionManager(app.addresses.http2Url);
  });
  afterAll(async () => {
    stream?.hangUp();
    sessions?.abort();
    await app?.close();
    await receiver?.close();
  });

  it("evaluates and delivers on its own timer", async () => {
    const { adminToken } = await app.createTenant(`timer-${randomUUID().slice(0, 8)}`);
    const { webhookSecret } = await app
      .client(AlertService, adminToken)
      .createChannel({ name: "ops", target: { case: "webhook", value: { url: receiver.url } } });
    const device = createClient(
      DeviceService,
      createGrpcTransport({ baseUrl: app.addresses.http2Url, sessionManager: sessions }),
    );
    const { enrollmentKey } = await app.client(FleetService, adminToken).createEnrollmentKey({ name: "site" });
    const registered = await device.register({ hardwareId: `pi-${randomUUID()}`, enrollmentKey });
    if (registered.outcome.case !== "enrolled") throw new Error("expected enrollment");
    stream = openStream(device, registered.outcome.value.deviceToken);
    await stream.next();
    stream.send({ case: "heartbeat", value: { health: { clockSynced: false }, playback: { state: 1 } } });
    // The heartbeat flush (200 ms here), then a tick of the engine (every second).
    await eventually(() => receiver.received.length === 1, 15_000);
    const [request] = receiver.received;
    const body = request?.body ?? "";
    const [, t, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request?.headers["x-avtech-signature"])) ?? [];
    expect(createHmac("sha256", webhookSecret).update(`${t}.${body}`).digest("hex")).toBe(mac);
    expect(JSON.parse(body)).toMatchObject({
      type: "alert.opened",
      alerts: [{ screen_id: registered.outcome.value.deviceId, rule: "clock_unsynced", event: "opened" }],
    });
  });
});
