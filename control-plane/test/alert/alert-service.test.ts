/**
 * AlertService on the assembled control plane (PostgreSQL, auth and audit interceptors, Connect
 * over HTTP): tenancy, roles, bad input, acknowledgement, rules and channels.
 */
import { randomUUID } from "node:crypto";
import { AlertRuleKind, AlertService, AlertState } from "@avtech/proto/gen/avtech/alert/v1/alert_pb.js";
import { AuditService } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { Role } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { UserService } from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FleetApp, startFleetApp } from "../fleet-pg/fleet-app.ts";
import { eventually, openStream, type TestStream } from "../lib/fleet-device.ts";

/** The ConnectError a call ends with (fails the test when it succeeds). */
async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

describe("AlertService", () => {
  let app: FleetApp;
  let sessions: Http2SessionManager;
  let stream: TestStream;
  let a: { id: string; adminToken: string };
  let b: { id: string; adminToken: string };
  let screenA: string;
  let alertA: string;

  beforeAll(async () => {
    // The background evaluation is slowed down so the test decides when the engine runs.
    app = await startFleetApp({ env: { AVTECH_ALERT_EVALUATE_SECONDS: "300" } });
    sessions = new Http2SessionManager(app.addresses.http2Url);
    const device = createClient(
      DeviceService,
      createGrpcTransport({ baseUrl: app.addresses.http2Url, sessionManager: sessions }),
    );
    a = await app.createTenant(`alert-a-${randomUUID().slice(0, 8)}`);
    b = await app.createTenant(`alert-b-${randomUUID().slice(0, 8)}`);
    const { enrollmentKey } = await app.client(FleetService, a.adminToken).createEnrollmentKey({ name: "site" });
    const registered = await device.register({ hardwareId: `pi-${randomUUID()}`, enrollmentKey });
    if (registered.outcome.case !== "enrolled") throw new Error("expected enrollment");
    screenA = registered.outcome.value.deviceId;
    stream = openStream(device, registered.outcome.value.deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    // A screen whose clock is not synchronised: one alert (clock_unsynced) for tenant A.
    stream.send({ case: "heartbeat", value: { health: { clockSynced: false }, playback: { state: 1 } } });
    await eventually(async () => (await app.fleet.stores.statuses.get(screenA))?.lastHealth !== undefined);
    await app.fleet.stores.flush();
    expect((await app.alerts.evaluate())?.opened).toBe(1);
    const { alerts } = await app.client(AlertService, a.adminToken).listAlerts({});
    alertA = alerts[0]?.id ?? "";
  }, 60_000);

  afterAll(async () => {
    stream?.hangUp();
    sessions?.abort();
    await app?.close();
  });

  it("shows a tenant its alerts, with the screen, rule and what was measured", async () => {
    const { alerts } = await app.client(AlertService, a.adminToken).listAlerts({ screenId: screenA });
    expect(alerts.map((x) => [x.id, x.screenId, x.rule, x.state, x.detail])).toEqual([
      [alertA, screenA, AlertRuleKind.CLOCK_UNSYNCED, AlertState.OPEN, "system clock not NTP-synchronised"],
    ]);
    const open = await app.client(AlertService, a.adminToken).listAlerts({ state: AlertState.RESOLVED });
    expect(open.alerts).toEqual([]);
  });

  it("never shows another tenant's alert: NOT_FOUND, the same answer as for an unknown id", async () => {
    const alertsB = app.client(AlertService, b.adminToken);
    expect((await alertsB.listAlerts({})).alerts).toEqual([]);
    const unknown = randomUUID();
    for (const id of [alertA, unknown]) {
      const got = await refusal(alertsB.getAlert({ alertId: id }));
      expect([got.code, got.rawMessage]).toEqual([Code.NotFound, `alert ${id} is not in your tenant`]);
      const acked = await refusal(alertsB.acknowledgeAlert({ alertId: id }));
      expect([acked.code, acked.rawMessage]).toEqual([Code.NotFound, `alert ${id} is not in your tenant`]);
    }
    const byScreen = await refusal(alertsB.listAlerts({ screenId: screenA }));
    expect([byScreen.code, byScreen.rawMessage]).toEqual([Code.NotFound, `screen ${screenA} is not in your tenant`]);
    expect((await app.client(AlertService, a.adminToken).getAlert({ alertId: alertA })).alert?.acknowledgedAt).toBe(
      undefined,
    );
  });

  it("acknowledges an alert once, audited; an unknown or malformed id is NOT_FOUND", async () => {
    const alerts = app.client(AlertService, a.adminToken);
    for (const id of [randomUUID(), "not-an-id"]) {
      const error = await refusal(alerts.acknowledgeAlert({ alertId: id }));
      expect([error.code, error.rawMessage]).toEqual([Code.NotFound, `alert ${id} is not in your tenant`]);
    }
    const { alert } = await alerts.acknowledgeAlert({ alertId: alertA });
    expect(alert?.acknowledgedAt).toBeDefined();
    expect(alert?.acknowledgedBy).not.toBe("");
    expect(alert?.state).toBe(AlertState.OPEN);
    const again = await alerts.acknowledgeAlert({ alertId: alertA });
    expect(again.alert?.acknowledgedAt).toEqual(alert?.acknowledgedAt);
    const { events } = await app.client(AuditService, a.adminToken).listAuditEvents({ subjectId: alertA });
    expect(events.map((e) => [e.action, e.subjectType, e.result])).toEqual([
      ["avtech.alert.v1.AlertService/AcknowledgeAlert", "alert", "ok"],
      ["avtech.alert.v1.AlertService/AcknowledgeAlert", "alert", "ok"],
    ]);
  });

  it("lets a viewer read and refuses it every change", async () => {
    const { secret: token } = await app
      .client(UserService, a.adminToken)
      .createApiToken({ name: "wall", role: Role.VIEWER });
    const viewer = app.client(AlertService, token);
    expect((await viewer.listAlerts({})).alerts).toHaveLength(1);
    expect((await viewer.listAlertRules({})).rules).toHaveLength(7);
    for (const change of [
      () => viewer.acknowledgeAlert({ alertId: alertA }),
      () => viewer.updateAlertRules({ rules: [{ kind: AlertRuleKind.SCREEN_OFFLINE, enabled: false }] }),
      () => viewer.createChannel({ name: "x", target: { case: "webhook", value: { url: "https://example.test/" } } }),
      () => viewer.retryDeadLetter({ deadLetterId: randomUUID() }),
    ]) {
      expect((await refusal(change())).code).toBe(Code.PermissionDenied);
    }
  });

  it("refuses bad rule thresholds with INVALID_ARGUMENT saying what to fix, and changes nothing", async () => {
    const alerts = app.client(AlertService, a.adminToken);
    const before = await alerts.listAlertRules({});
    const error = await refusal(
      alerts.updateAlertRules({
        rules: [
          { kind: AlertRuleKind.DISK_FULL, enabled: true, threshold: 5 },
          { kind: AlertRuleKind.CLOCK_UNSYNCED, enabled: true, threshold: 3 },
          { kind: AlertRuleKind.SCREEN_OFFLINE, enabled: true, threshold: Number.NaN },
          { kind: 42 as AlertRuleKind, enabled: true },
        ],
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toContain("rules[0]: rule disk_full: threshold must be 50..100 percent (got 5)");
    expect(error.rawMessage).toContain("rules[1]: rule clock_unsynced takes no threshold: send 0");
    expect(error.rawMessage).toContain("rules[2]: rule screen_offline: threshold must be 1..10080 minutes");
    expect(error.rawMessage).toContain("rules[3].kind must be one of the ALERT_RULE_KIND_ values, not 42");
    expect((await refusal(alerts.updateAlertRules({ rules: [] }))).rawMessage).toBe(
      "rules is empty: list the rules to change",
    );
    expect(await alerts.listAlertRules({})).toEqual(before);
  });

  it("changes rules; a disabled rule resolves its open alert at the next evaluation", async () => {
    const alerts = app.client(AlertService, a.adminToken);
    const defaults = await alerts.listAlertRules({});
    expect(defaults.rules.map((r) => [r.kind, r.enabled, r.threshold])).toEqual([
      [AlertRuleKind.SCREEN_OFFLINE, true, 10],
      [AlertRuleKind.SYNC_FAILED, true, 0],
      [AlertRuleKind.DISK_FULL, true, 90],
      [AlertRuleKind.OVERHEATED, true, 80],
      [AlertRuleKind.CLOCK_UNSYNCED, true, 0],
      [AlertRuleKind.PLAYBACK_ERRORS, true, 3],
      [AlertRuleKind.DISPLAY_OFF, true, 0],
    ]);
    const { rules } = await alerts.updateAlertRules({
      rules: [
        { kind: AlertRuleKind.SCREEN_OFFLINE, enabled: true, threshold: 30 },
        { kind: AlertRuleKind.CLOCK_UNSYNCED, enabled: false },
      ],
    });
    expect(rules.find((r) => r.kind === AlertRuleKind.SCREEN_OFFLINE)?.threshold).toBe(30);
    expect(rules.find((r) => r.kind === AlertRuleKind.CLOCK_UNSYNCED)?.enabled).toBe(false);
    // B's rules are its own.
    expect(await app.client(AlertService, b.adminToken).listAlertRules({})).toEqual(defaults);
    expect((await app.alerts.evaluate())?.resolved).toBe(1);
    expect((await alerts.getAlert({ alertId: alertA })).alert?.state).toBe(AlertState.RESOLVED);
  });

  it("refuses bad channels with INVALID_ARGUMENT (or FAILED_PRECONDITION without SMTP) saying what to fix", async () => {
    const alerts = app.client(AlertService, a.adminToken);
    const webhook = (url: string) =>
      alerts.createChannel({ name: "hook", target: { case: "webhook", value: { url } } });
    const cases: Array<[() => Promise<unknown>, Code, string]> = [
      [
        () => webhook("ftp://hooks.example.test/x"),
        Code.InvalidArgument,
        "webhook.url must be http:// or https://, not ftp:",
      ],
      [
        () => webhook("hooks.example.test"),
        Code.InvalidArgument,
        'webhook.url "hooks.example.test" is not an absolute URL',
      ],
      [() => webhook("https://user:pw@hooks.example.test/"), Code.InvalidArgument, "webhook.url must not carry a user"],
      [() => alerts.createChannel({ name: "none" }), Code.InvalidArgument, "set webhook (with a url) or email"],
      [
        () =>
          alerts.createChannel({
            name: "mail",
            target: { case: "email", value: { recipients: ["ops@", "a@b.test"] } },
          }),
        Code.InvalidArgument,
        "email.recipients: not an e-mail address: ops@",
      ],
      [
        () =>
          alerts.createChannel({
            name: "mail",
            target: { case: "email", value: { recipients: ["ops@example.test"] } },
          }),
        Code.FailedPrecondition,
        "set alerts.smtp.url (AVTECH_SMTP_URL)",
      ],
    ];
    for (const [call, code, message] of cases) {
      const error = await refusal(call());
      expect([Code[error.code], error.rawMessage]).toEqual([Code[code], expect.stringContaining(message)]);
    }
    expect((await alerts.listChannels({})).channels).toEqual([]);
    const created = await webhook("https://hooks.example.test/avtech");
    expect(created.webhookSecret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const { channels } = await alerts.listChannels({});
    expect(channels.map((c) => [c.id, c.name, c.target.case])).toEqual([[created.channel?.id, "hook", "webhook"]]);
    expect(
      JSON.stringify(channels, (_key, value: unknown) => (typeof value === "bigint" ? String(value) : value)),
    ).not.toContain(created.webhookSecret);
    const foreign = await refusal(
      app.client(AlertService, b.adminToken).deleteChannel({ channelId: created.channel?.id ?? "" }),
    );
    expect(foreign.code).toBe(Code.NotFound);
    await alerts.deleteChannel({ channelId: created.channel?.id ?? "" });
    expect((await alerts.listChannels({})).channels).toEqual([]);
  });
});
