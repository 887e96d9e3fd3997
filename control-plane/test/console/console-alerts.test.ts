import { randomUUID } from "node:crypto";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminCommands } from "../../src/admin/index.ts";
import { loadConfig } from "../../src/platform/config/index.ts";
import { type FleetApp, startFleetApp } from "../fleet-pg/fleet-app.ts";
import { eventually, openStream, type TestStream } from "../lib/fleet-device.ts";
import { ensureConsoleBuilt, launchBrowser, type TestBrowser } from "./browser.ts";

/**
 * The console's Alerts page in Chromium against the real control plane (assembled as main.ts
 * does, console files served by it): an admin sees a screen's alert and acknowledges it, adds a
 * webhook channel and is shown its secret once, changes a rule, and finds the notification that
 * could not be delivered among the dead letters and discards it; a viewer sees the page without
 * any of the controls. The test runs the alert engine itself (evaluate, deliver) between steps.
 */
const password = "correct horse battery staple";
const slow = { timeout: 15_000 };

describe("the console's Alerts page on the real control plane", () => {
  let app: FleetApp;
  let sessions: Http2SessionManager;
  let stream: TestStream;
  let browser: TestBrowser;
  let page: Page;
  const slug = `alerts-${randomUUID().slice(0, 8)}`;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await ensureConsoleBuilt();
    // One attempt and no grouping wait: the first failed delivery is a dead letter at once.
    app = await startFleetApp({
      env: { AVTECH_CONFIG: "/alerts.json", AVTECH_ALERT_EVALUATE_SECONDS: "300" },
      readFile: () => JSON.stringify({ alerts: { maxAttempts: 1, groupWindowSeconds: 0 } }),
    });
    const { adminToken } = await app.createTenant(slug);
    const admin = createAdminCommands(app.db.orm, loadConfig({ env: {} }).defaultTenantQuota);
    await admin.createUser({ tenant: slug, email: "ada@demo.test", password, role: "admin", displayName: "Ada" });
    await admin.createUser({ tenant: slug, email: "vic@demo.test", password, role: "viewer", displayName: "Vic" });
    sessions = new Http2SessionManager(app.addresses.http2Url);
    const device = createClient(
      DeviceService,
      createGrpcTransport({ baseUrl: app.addresses.http2Url, sessionManager: sessions }),
    );
    const { enrollmentKey } = await app.client(FleetService, adminToken).createEnrollmentKey({ name: "site" });
    const registered = await device.register({ hardwareId: `pi-${randomUUID()}`, enrollmentKey });
    if (registered.outcome.case !== "enrolled") throw new Error("expected enrollment");
    const screenId = registered.outcome.value.deviceId;
    await app.client(FleetService, adminToken).updateScreen({ id: screenId, etag: "r1", name: "Lobby left" });
    stream = openStream(device, registered.outcome.value.deviceToken);
    await stream.next();
    stream.send({ case: "heartbeat", value: { health: { clockSynced: false }, playback: { state: 1 } } });
    await eventually(async () => (await app.fleet.stores.statuses.get(screenId))?.lastHealth !== undefined);
    await app.fleet.stores.flush();
    expect((await app.alerts.evaluate())?.opened).toBe(1);
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("dialog", (dialog) => void dialog.accept());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    stream?.hangUp();
    sessions?.abort();
    await app?.close();
  });

  async function signIn(email: string): Promise<void> {
    await page.goto(app.addresses.http1Url);
    await page.evaluate("sessionStorage.clear()");
    await page.reload();
    await page.getByLabel("Organisation").fill(slug);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Alerts" }).click(slow);
    await page.getByRole("heading", { name: "Alerts", exact: true }).waitFor(slow);
  }

  it("shows the open alert as a badge on the fleet page and in the screen's alert history", async () => {
    await signIn("ada@demo.test");
    await page.getByRole("link", { name: "Screens" }).click(slow);
    const badge = page.getByRole("link", { name: "1 open alert", exact: true });
    await badge.waitFor(slow);
    await page.getByRole("link", { name: "Lobby left" }).first().click(slow);
    const history = page.getByRole("list", { name: "Alerts of this screen" });
    await history.getByText("Clock not synchronised").waitFor(slow);
    expect(await history.getByText("Open", { exact: true }).count()).toBe(1);
    await page.goBack();
    await badge.click(slow);
    await page.getByRole("heading", { name: "Alerts", exact: true }).waitFor(slow);
    expect(pageErrors).toEqual([]);
  });

  it("lets an admin acknowledge, add a channel, change a rule and see and discard a dead letter", async () => {
    await signIn("ada@demo.test");
    const alerts = page.getByRole("list", { name: "Alerts" });
    await alerts.getByText("Clock not synchronised").waitFor(slow);
    expect(await alerts.getByRole("link", { name: "Lobby left" }).count()).toBe(1);
    await alerts.getByRole("button", { name: "Acknowledge" }).click();
    await alerts.getByText(/acknowledged/).waitFor(slow);

    const form = page.getByRole("form", { name: "New channel" });
    await form.getByLabel("Name").fill("ops hook");
    await form.getByLabel("URL").fill("http://127.0.0.1:9/avtech");
    await form.getByRole("button", { name: "Add channel" }).click();
    const secret = page.getByRole("status").filter({ hasText: "signing secret" }).locator("code");
    await secret.waitFor(slow);
    expect(await secret.textContent()).toMatch(/^whsec_/);
    await page.getByRole("list", { name: "Channels" }).getByText("http://127.0.0.1:9/avtech").waitFor(slow);

    // Disabling the rule resolves the alert; its notification fails once and is a dead letter.
    const rules = page.getByRole("form", { name: "Alert rules" });
    await rules.getByLabel("Clock not synchronised").uncheck();
    await rules.getByRole("button", { name: "Save rules" }).click();
    await eventually(async () => (await app.alerts.evaluate())?.queued === 1, 10_000);
    expect(await app.alerts.deliver()).toEqual({ delivered: 0, retried: 0, dead: 1 });
    await page.reload();
    const letters = page.getByRole("list", { name: "Dead letters" });
    await letters.getByText("clock not synchronised resolved").waitFor(slow);
    await letters.getByText(/1 attempts, last .*POST http:\/\/127\.0\.0\.1:9\/avtech failed/).waitFor(slow);
    await letters.getByRole("button", { name: "Discard" }).click();
    await page.getByText("Every notification was delivered.").waitFor(slow);
    await page.getByLabel("Open only").uncheck();
    await alerts.getByText("Resolved", { exact: true }).waitFor(slow);
    expect(pageErrors).toEqual([]);
  });

  it("shows a viewer the alerts without any control", async () => {
    await signIn("vic@demo.test");
    await page.getByLabel("Open only").uncheck();
    await page.getByRole("list", { name: "Alerts" }).getByText("Clock not synchronised").waitFor(slow);
    await page.getByRole("list", { name: "Channels" }).getByText("ops hook").waitFor(slow);
    for (const name of ["Acknowledge", "Save rules", "Add channel", "Delete", "Retry", "Discard"]) {
      expect(await page.getByRole("button", { name }).count(), name).toBe(0);
    }
    expect(pageErrors).toEqual([]);
  });
});
