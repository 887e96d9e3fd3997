/**
 * The alert engine end to end on PostgreSQL, with a clock moved by hand: a real screen stream
 * (fleet test server on the PostgreSQL stores), a real HTTP webhook receiver and a real SMTP server.
 */
import { createHmac, randomUUID } from "node:crypto";
import { AlertService } from "@avtech/proto/gen/avtech/alert/v1/alert_pb.js";
import { HealthSchema, PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import pg from "pg";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { createDbAssetCatalog, createDbPublishSources } from "../../src/core/schedule/index.ts";
import {
  AlertEngine,
  type AlertEngineSettings,
  type AlertMetrics,
  createAlertMetrics,
  createAlertService,
  createSenders,
  createSmtpMailer,
  type Mailer,
  type NotificationPayload,
  PgAlertStore,
} from "../../src/fleet/alert/index.ts";
import { createPgFleetStores, type PgFleetStores } from "../../src/fleet/pg/index.ts";
import { openPgFleetDatabase, type PgFleetDatabase } from "../fleet-pg/pg-fleet.ts";
import { enrollScreen, eventually, openStream, type TestStream } from "../lib/fleet-device.ts";
import { type FleetTestServer, ManualClock, startFleetTestServer } from "../lib/fleet-server.ts";
import { type MailSink, startMailSink, startWebhookReceiver, type WebhookReceiver } from "./receivers.ts";

const minute = 60_000;
const settings: AlertEngineSettings = {
  groupWindowMs: minute,
  groupMinAlerts: 5,
  maxPerMinute: 10,
  retry: { maxAttempts: 3, baseMs: 1000, maxMs: 10_000 },
  deliveryTimeoutMs: 5000,
};
const healthy = {
  cpuTemperatureCelsius: 55,
  diskUsedBytes: 10n,
  diskTotalBytes: 100n,
  clockSynced: true,
};

describe("alerts", () => {
  let pgf: PgFleetDatabase;
  let pool: pg.Pool;
  let stores: PgFleetStores;
  let server: FleetTestServer<PgFleetStores>;
  let receiver: WebhookReceiver;
  let mailSink: MailSink;
  let mailer: Mailer;
  const clock = new ManualClock(Date.parse("2026-12-01T10:00:00Z"));
  const logger = pino({ level: "silent" });

  /** What the engines of this file report (one registry: counters add up over the tests). */
  const metricsRegistry = new Registry();
  let metrics: AlertMetrics;
  const engineOn = (enginePool: pg.Pool, random = () => 1) =>
    new AlertEngine({
      store: new PgAlertStore(enginePool),
      senders: createSenders({ clock, mailer }),
      clock,
      logger,
      settings,
      metrics,
      random,
    });
  const metricValues = async () =>
    Object.fromEntries(
      (await metricsRegistry.getMetricsAsJSON()).flatMap((metric) =>
        metric.values
          .filter((v) => !("metricName" in v && v.metricName !== metric.name))
          .map((v) => [`${metric.name}${JSON.stringify(v.labels)}`, v.value]),
      ),
    );
  let engine: AlertEngine;

  /** AlertService as an admin of `tenantId`, in memory (the RPC checks are in alert-service.test.ts). */
  const serviceOf = (tenantId: string): Client<typeof AlertService> =>
    createClient(
      AlertService,
      createRouterTransport((router) =>
        router.service(
          AlertService,
          createAlertService({
            store: new PgAlertStore(pool),
            clock,
            principalOf: () => ({ tenantId, role: "admin", actorId: "test-admin" }),
            emailConfigured: true,
          }),
        ),
      ),
    );

  beforeAll(async () => {
    pgf = await openPgFleetDatabase();
    pool = new pg.Pool({ connectionString: pgf.db.database.url, max: 5 });
    stores = createPgFleetStores({
      pool,
      logger,
      core: { publishSources: createDbPublishSources(pgf.db.orm), assets: createDbAssetCatalog(pgf.db.orm) },
      plays: { policy: { rawRetentionDays: 7, rollupRetentionMonths: 13 }, flushMs: 5 },
      clock,
    });
    server = await startFleetTestServer({ stores, clock });
    receiver = await startWebhookReceiver();
    mailSink = await startMailSink();
    mailer = createSmtpMailer({ url: mailSink.url, from: "alerts@avtech.test", timeoutMs: 5000 });
    const store = new PgAlertStore(pool);
    metrics = createAlertMetrics(metricsRegistry, () => store.backlog());
    engine = engineOn(pool);
  });
  afterAll(async () => {
    mailer?.close();
    await server?.close();
    await receiver?.close();
    await mailSink?.close();
    await pool?.end();
    await pgf?.close();
  });

  async function alertRows(tenantId: string) {
    const { rows } = await pool.query<{ id: string; kind: number; resolved_at: Date | null; screen_id: string }>(
      "SELECT id, kind, resolved_at, screen_id FROM alerts WHERE tenant_id = $1 ORDER BY opened_at",
      [tenantId],
    );
    return rows;
  }

  /** Sends a heartbeat at the clock's now and waits until it is stored. */
  async function beat(stream: TestStream, screenId: string, health = healthy): Promise<void> {
    const at = clock.now().getTime();
    stream.send({
      case: "heartbeat",
      value: { sentAt: timestampFromDate(clock.now()), health, playback: { state: PlaybackState.PLAYING } },
    });
    await eventually(async () => (await stores.statuses.get(screenId))?.lastSeenAt?.getTime() === at);
    await stores.flush();
  }

  /**
   * A tenant for one test. Its screens and channels go when the test ends: the clock only moves
   * forward, so a screen left behind would go offline in the next test and alert there.
   */
  async function tenantForTest(slug: string): Promise<string> {
    const tenant = await pgf.tenant(`${slug}-${randomUUID()}`);
    onTestFinished(async () => {
      await pool.query("DELETE FROM alert_channels WHERE tenant_id = $1", [tenant]);
      await pool.query("DELETE FROM screens WHERE tenant_id = $1", [tenant]);
    });
    return tenant;
  }

  const payloadOf = (index: number) => JSON.parse(receiver.received[index]?.body ?? "{}") as NotificationPayload;

  it("a screen that stops heartbeating opens one alert after N minutes; one signed delivery, a 500 retried, recovery resolves it", async () => {
    const tenant = await tenantForTest("alerts");
    const alerts = serviceOf(tenant);
    const { channel, webhookSecret } = await alerts.createChannel({
      name: "ops hook",
      target: { case: "webhook", value: { url: receiver.url } },
    });
    expect(webhookSecret).toMatch(/^whsec_/);
    const { deviceId, deviceToken } = await enrollScreen(server, "alert-screen-1", tenant);
    let stream = openStream(server.device(), deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    await beat(stream, deviceId);
    await engine.evaluate();
    expect(await alertRows(tenant)).toEqual([]);

    // The screen goes silent: its stream ends (as when its network goes).
    stream.hangUp();
    await stream.ended;
    await eventually(async () => (await stores.statuses.get(deviceId))?.streamOpen === false);
    await stores.flush();
    const lastSeen = clock.now().getTime();

    clock.advance(10 * minute - 1000); // offline for 9 min 59 s: not yet
    await engine.evaluate();
    expect(await alertRows(tenant)).toEqual([]);
    clock.advance(2000); // 10 min 1 s
    expect((await engine.evaluate())?.opened).toBe(1);
    clock.advance(15_000);
    expect((await engine.evaluate())?.opened).toBe(0); // evaluated again: still the one alert
    const opened = await alertRows(tenant);
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ kind: 1, resolved_at: null, screen_id: deviceId });
    const listed = await alerts.listAlerts({ screenId: deviceId });
    expect(listed.alerts.map((a) => [a.rule, a.state, a.detail])).toEqual([
      [1, 1, `last seen ${new Date(lastSeen).toISOString()}`],
    ]);

    // Within the group window nothing is sent yet; after it, one notification, answered 500.
    expect(await engine.deliver()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    receiver.answer(500, 200);
    clock.advance(minute);
    expect((await engine.evaluate())?.queued).toBe(1);
    expect(await engine.deliver()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    expect(receiver.received).toHaveLength(1);
    // Retried after the backoff (jitter pinned at its cap: 1 s for the first retry), not before.
    expect(await engine.deliver()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    clock.advance(1000);
    expect(await engine.deliver()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(await engine.deliver()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    expect(receiver.received).toHaveLength(2);

    // Both attempts carry the same notification, signed over timestamp + body with the channel's secret.
    const [first, second] = receiver.received;
    expect(second?.body).toBe(first?.body);
    expect(second?.headers["x-avtech-delivery"]).toBe(first?.headers["x-avtech-delivery"]);
    for (const request of receiver.received) {
      const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request.headers["x-avtech-signature"]));
      expect(match).not.toBeNull();
      const [, t, mac] = match as RegExpExecArray;
      expect(createHmac("sha256", webhookSecret).update(`${t}.${request.body}`).digest("hex")).toBe(mac);
      expect(request.headers["content-type"]).toBe("application/json");
    }
    const payload = payloadOf(1);
    expect(payload).toMatchObject({ type: "alert.opened", tenant_id: tenant, total: 1 });
    expect(payload.alerts.map((a) => [a.screen_id, a.rule, a.event])).toEqual([[deviceId, "screen_offline", "opened"]]);
    expect(payload.id).toBe(first?.headers["x-avtech-delivery"]);
    expect(await metricValues()).toMatchObject({
      "avtech_alerts_open{}": 1,
      'avtech_alert_changes_total{"change":"opened"}': 1,
      "avtech_alert_notifications_total{}": 1,
      'avtech_alert_deliveries_total{"outcome":"retried"}': 1,
      'avtech_alert_deliveries_total{"outcome":"delivered"}': 1,
      "avtech_alert_deliveries_pending{}": 0,
    });

    // Recovery: the screen heartbeats again; the alert resolves, and that is notified once.
    stream = openStream(server.device(), deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    await beat(stream, deviceId);
    expect((await engine.evaluate())?.resolved).toBe(1);
    expect((await alertRows(tenant))[0]?.resolved_at).not.toBeNull();
    clock.advance(minute);
    await engine.evaluate();
    expect(await engine.deliver()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(receiver.received).toHaveLength(3);
    expect(payloadOf(2)).toMatchObject({ type: "alert.resolved", total: 1 });
    expect((await alerts.getAlert({ alertId: opened[0]?.id ?? "" })).alert?.state).toBe(2);
    expect((await alerts.listChannels({})).channels.map((c) => c.id)).toEqual([channel?.id]);
    await alerts.deleteChannel({ channelId: channel?.id ?? "" });
    expect((await alerts.listChannels({})).channels).toEqual([]);
    stream.hangUp();
    await stream.ended;
  });

  it("500 screens going offline at once give one grouped notification, not 500", async () => {
    const tenant = await tenantForTest("site");
    await serviceOf(tenant).createChannel({ name: "ops", target: { case: "webhook", value: { url: receiver.url } } });
    receiver.received.length = 0;
    receiver.answer(200);
    const t0 = clock.now().getTime();
    // 500 screens that were online, their last heartbeats spread over one 15 s interval, and
    // then the site's network went: every stream closed.
    await pool.query(
      `WITH s AS (
         INSERT INTO screens (id, tenant_id, name, hardware_id, timezone, settings, created_at, claimed_at)
         SELECT gen_random_uuid(), $1::uuid, 'lobby ' || n, 'hw-' || $1::text || '-' || n, 'UTC', '{}', $2, $2
         FROM generate_series(1, 500) AS n RETURNING id, name)
       INSERT INTO screen_status (screen_id, last_seen_at, stream_open)
       SELECT id, $2::timestamptz - make_interval(secs => (substr(name, 7)::int % 15)), false FROM s`,
      [tenant, new Date(t0)],
    );
    clock.advance(10 * minute - 7000); // about half of them are past 10 minutes
    const firstPass = await engine.evaluate();
    expect(firstPass?.opened).toBeGreaterThan(0);
    expect(firstPass?.opened).toBeLessThan(500);
    clock.advance(15_000);
    const secondPass = await engine.evaluate();
    expect((firstPass?.opened ?? 0) + (secondPass?.opened ?? 0)).toBe(500);
    clock.advance(minute);
    const grouped = await engine.evaluate();
    expect(grouped).toMatchObject({ notifications: 1, queued: 1 });
    expect(await engine.deliver()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(receiver.received).toHaveLength(1);
    const payload = payloadOf(0);
    expect(payload).toMatchObject({
      type: "alerts.grouped",
      total: 500,
      subject: "[AVTech] 500 screens: screen offline opened",
    });
    expect(new Set(payload.alerts.map((a) => a.screen_id)).size).toBe(500);
    clock.advance(minute);
    expect((await engine.evaluate())?.notifications).toBe(0);
    expect(await engine.deliver()).toEqual({ delivered: 0, retried: 0, dead: 0 });
  });

  it("several replicas evaluating and delivering at once open each alert once and send each notification once", async () => {
    const tenant = await tenantForTest("replicas");
    await serviceOf(tenant).createChannel({ name: "ops", target: { case: "webhook", value: { url: receiver.url } } });
    // Three screens of one tenant with different problems (three rules: below the grouping size),
    // so three notifications each go out on their own.
    await pool.query(
      `WITH s AS (
         INSERT INTO screens (id, tenant_id, name, hardware_id, timezone, settings, created_at, claimed_at)
         SELECT gen_random_uuid(), $1::uuid, 'replica ' || n, 'hw-' || $1::text || '-' || n, 'UTC', '{}', $2, $2
         FROM generate_series(1, 3) AS n RETURNING id, name)
       INSERT INTO screen_status (screen_id, last_seen_at, stream_open, desired_version, applied_version,
                                  last_failed_version, last_sync_error, last_health)
       SELECT id, $2, true, 2, CASE WHEN name = 'replica 1' THEN 1 ELSE 2 END, 2, 'DOWNLOAD_FAILED: 404',
              CASE name WHEN 'replica 2' THEN $3::bytea WHEN 'replica 3' THEN $4::bytea END FROM s`,
      [
        tenant,
        clock.now(),
        Buffer.from(toBinary(HealthSchema, create(HealthSchema, { ...healthy, cpuTemperatureCelsius: 90 }))),
        Buffer.from(toBinary(HealthSchema, create(HealthSchema, { ...healthy, clockSynced: false }))),
      ],
    );
    receiver.received.length = 0;
    receiver.answer(200);
    const pools = [1, 2, 3, 4].map(() => new pg.Pool({ connectionString: pgf.db.database.url, max: 2 }));
    onTestFinished(() => Promise.all(pools.map((p) => p.end())).then(() => undefined));
    const replicas = pools.map((p) => engineOn(p));
    const passes = await Promise.all(replicas.map((r) => r.evaluate()));
    clock.advance(minute);
    passes.push(...(await Promise.all(replicas.map((r) => r.evaluate()))));
    const done = passes.filter((p) => p !== undefined);
    expect(done.reduce((n, p) => n + (p?.opened ?? 0), 0)).toBe(3);
    expect(done.reduce((n, p) => n + (p?.queued ?? 0), 0)).toBe(3);
    expect((await alertRows(tenant)).length).toBe(3);
    const deliveries = await Promise.all(replicas.map((r) => r.deliver()));
    expect(deliveries.reduce((n, d) => n + d.delivered, 0)).toBe(3);
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers["x-avtech-delivery"])).size).toBe(3);
    expect(receiver.received.map((r) => JSON.parse(r.body).alerts[0].rule).sort()).toEqual([
      "clock_unsynced",
      "overheated",
      "sync_failed",
    ]);
  });

  it("a delivery in flight when its process stops is delivered again by the next one (at least once)", async () => {
    const tenant = await tenantForTest("restart");
    await serviceOf(tenant).createChannel({ name: "ops", target: { case: "webhook", value: { url: receiver.url } } });
    receiver.received.length = 0;
    await failSync(tenant);
    clock.advance(minute);
    expect((await engine.evaluate())?.queued).toBe(1);

    // Process A sends; the receiver takes the request but has not answered when A stops.
    const poolA = new pg.Pool({ connectionString: pgf.db.database.url, max: 2 });
    const stopA = new AbortController();
    receiver.answer("hold");
    const inFlight = engineOn(poolA).deliver(stopA.signal);
    await eventually(() => receiver.received.length === 1);
    stopA.abort();
    await inFlight;
    await poolA.end();
    receiver.release(200);
    receiver.answer(200);

    // Process B: the claim holds for its lease (3 × the delivery timeout), then B sends it again.
    const engineB = engineOn(pool);
    expect(await engineB.deliver()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    clock.advance(settings.deliveryTimeoutMs * 3);
    expect(await engineB.deliver()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(await engineB.deliver()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]?.headers["x-avtech-delivery"]).toBe(receiver.received[0]?.headers["x-avtech-delivery"]);
    const { rows } = await pool.query(
      "SELECT attempts, delivered_at IS NOT NULL AS delivered FROM alert_outbox WHERE tenant_id = $1",
      [tenant],
    );
    expect(rows).toEqual([{ attempts: 2, delivered: true }]);
  });

  it("dead-letters a notification after its attempts, and delivers it when retried", async () => {
    const tenant = await tenantForTest("dead");
    const alerts = serviceOf(tenant);
    await alerts.createChannel({ name: "ops", target: { case: "webhook", value: { url: receiver.url } } });
    receiver.received.length = 0;
    receiver.answer(503);
    await failSync(tenant);
    clock.advance(minute);
    await engine.evaluate();
    expect(await engine.deliver()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    clock.advance(1000);
    expect(await engine.deliver()).toEqual({ delivered: 0, retried: 1, dead: 0 });
    clock.advance(2000);
    expect(await engine.deliver()).toEqual({ delivered: 0, retried: 0, dead: 1 });
    const { deadLetters } = await alerts.listDeadLetters({});
    expect(deadLetters.map((d) => [d.attempts, d.lastError])).toEqual([[3, `POST ${receiver.url} answered HTTP 503`]]);
    clock.advance(settings.retry.maxMs * 10);
    expect(await engine.deliver()).toEqual({ delivered: 0, retried: 0, dead: 0 });
    receiver.answer(200);
    await alerts.retryDeadLetter({ deadLetterId: deadLetters[0]?.id ?? "" });
    expect(await engine.deliver()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect((await alerts.listDeadLetters({})).deadLetters).toEqual([]);
    expect(receiver.received).toHaveLength(4);
  });

  it("tries a failing delivery once per deliver(), even when its jittered delay comes out as zero", async () => {
    const tenant = await tenantForTest("jitter");
    // 50 channels: one notification fills a whole claim round, so deliver() claims another round.
    for (let n = 0; n < 50; n++) {
      await serviceOf(tenant).createChannel({
        name: `ops ${n}`,
        target: { case: "webhook", value: { url: receiver.url } },
      });
    }
    receiver.received.length = 0;
    receiver.answer(500);
    await failSync(tenant);
    clock.advance(minute);
    expect((await engine.evaluate())?.queued).toBe(50);
    const noJitter = engineOn(pool, () => 0);
    expect(await noJitter.deliver()).toEqual({ delivered: 0, retried: 50, dead: 0 });
    expect(receiver.received).toHaveLength(50);
    expect(await noJitter.deliver()).toEqual({ delivered: 0, retried: 50, dead: 0 });
  });

  it("mails notifications through the configured SMTP server", async () => {
    const tenant = await tenantForTest("mail");
    await serviceOf(tenant).createChannel({
      name: "on call",
      target: { case: "email", value: { recipients: ["oncall@example.test", "ops@example.test"] } },
    });
    const screenId = await failSync(tenant);
    clock.advance(minute);
    await engine.evaluate();
    expect(await engine.deliver()).toEqual({ delivered: 1, retried: 0, dead: 0 });
    expect(mailSink.mails).toHaveLength(1);
    const [mail] = mailSink.mails;
    expect(mail?.from).toBe("alerts@avtech.test");
    expect(mail?.to).toEqual(["oncall@example.test", "ops@example.test"]);
    expect(mail?.data).toContain("Subject: [AVTech] sync screen: sync failed opened");
    // The text part is quoted-printable: undo its soft line breaks before reading it.
    const text = mail?.data.replaceAll("=\r\n", "") ?? "";
    expect(text).toContain(`- sync screen [screen ${screenId}]: sync_failed opened (version 2 failed: DOWNLOAD_FAILED`);
  });

  /** A screen of `tenant` whose latest desired version failed; evaluates once (the alert opens). */
  async function failSync(tenant: string): Promise<string> {
    const { rows } = await pool.query<{ id: string }>(
      `WITH s AS (INSERT INTO screens (id, tenant_id, name, hardware_id, timezone, settings, created_at, claimed_at)
                  VALUES (gen_random_uuid(), $1::uuid, 'sync screen', 'hw-' || $1::text, 'UTC', '{}', $2, $2) RETURNING id)
       INSERT INTO screen_status (screen_id, last_seen_at, stream_open, desired_version, applied_version,
                                  last_failed_version, last_sync_error)
       SELECT id, $2, true, 2, 1, 2, 'DOWNLOAD_FAILED: 404 from /assets' FROM s RETURNING screen_id AS id`,
      [tenant, clock.now()],
    );
    const pass = await engine.evaluate();
    expect(pass?.opened).toBe(1);
    return rows[0]?.id ?? "";
  }
});
