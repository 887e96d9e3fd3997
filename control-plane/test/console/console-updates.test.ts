import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminCommands } from "../../src/admin/index.ts";
import { loadConfig } from "../../src/platform/config/index.ts";
import { eventually } from "../lib/fleet-device.ts";
import { type BundleFactory, createBundleFactory } from "../lib/rauc-bundles.ts";
import type { TestTenant } from "../lib/test-app.ts";
import { startUpdateApp, type UpdateApp } from "../lib/update-app.ts";
import { enrollUpdateScreens, type SimulatedUpdateScreen } from "../lib/update-screens.ts";
import { artifactsDir, ensureConsoleBuilt, launchBrowser, type TestBrowser } from "./browser.ts";

/**
 * The console's OS updates page in Chromium against the real control plane (assembled as main.ts
 * does, console files served by it) with three simulated RAUC screens: upload a bundle through
 * the page, start a rollout, follow its waves as a screen reports, pause, resume, abort, and a
 * screen's update history on its page; a viewer sees neither the upload nor the rollout form.
 */
const password = "correct horse battery staple";
const slow = { timeout: 15_000 };

describe("the console's OS updates page on the real control plane", () => {
  let app: UpdateApp;
  let bundles: BundleFactory;
  let tenant: TestTenant;
  let screens: SimulatedUpdateScreen[];
  let groupName: string;
  let browser: TestBrowser;
  let page: Page;
  let bundlePath: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    [bundles] = await Promise.all([
      createBundleFactory(),
      ensureConsoleBuilt(),
      mkdir(artifactsDir, { recursive: true }),
    ]);
    app = await startUpdateApp({ update: { compatible: bundles.compatible, keyringPath: bundles.keyringPath } });
    tenant = await app.createTenant("demo");
    const admin = createAdminCommands(app.db.orm, loadConfig({ env: {} }).defaultTenantQuota);
    await admin.createUser({ tenant: "demo", email: "ada@demo.test", password, role: "admin", displayName: "Ada" });
    await admin.createUser({ tenant: "demo", email: "vic@demo.test", password, role: "viewer", displayName: "Vic" });
    groupName = "kiosks";
    ({ screens } = await enrollUpdateScreens(app, tenant, groupName, 3, "2026.11.0"));
    bundlePath = await bundles.bundle({ version: "2026.12.1" });
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("dialog", (dialog) => void dialog.accept());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all((screens ?? []).map((screen) => screen.disconnect()));
    await app?.close();
    await bundles?.remove();
  });

  async function signIn(email: string): Promise<void> {
    await page.goto(app.addresses.http1Url);
    await page.evaluate("sessionStorage.clear()");
    await page.reload();
    await page.getByLabel("Organisation").fill("demo");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "OS updates" }).waitFor(slow);
  }

  it("uploads a bundle, starts a rollout and follows it wave by wave", async () => {
    await signIn("ada@demo.test");
    await page.getByRole("link", { name: "OS updates" }).click();
    await page.getByRole("heading", { name: "OS updates" }).waitFor(slow);

    const upload = page.getByRole("form", { name: "Upload a release" });
    await upload.getByLabel("Bundle (.raucb)").setInputFiles(bundlePath);
    await upload.getByLabel("Notes").fill("kernel 6.6, new player");
    await upload.getByRole("button", { name: "Upload" }).click();
    await upload.getByText("Release 2026.12.1 is ready to roll out.").waitFor(slow);
    await page.getByRole("cell", { name: "kernel 6.6, new player" }).waitFor(slow);

    const form = page.getByRole("form", { name: "New rollout" });
    await form.getByLabel("Release").selectOption({ label: "2026.12.1" });
    await form.getByLabel("Waves (cumulative %)").fill("34, 100");
    await form.getByLabel("Target").selectOption("groupId");
    // A select's accessible name also holds its selected option ("Group Choose…").
    await form.getByRole("combobox", { name: /^Group/ }).selectOption({ label: groupName });
    await form.getByRole("button", { name: "Start rollout" }).click();
    await page.getByRole("link", { name: "2026.12.1" }).waitFor(slow);
    await page.getByText("Wave 1 · 34 % · 2 screens · running").waitFor(slow);

    // The first wave's screens install; the page follows (it refreshes every 5 s).
    await eventually(() => screens.filter((s) => s.osUpdate?.version === "2026.12.1").length === 2, 10_000);
    await Promise.all(screens.filter((s) => s.osUpdate).map((s) => s.install("healthy")));
    await page.getByText("Wave 2 · 100 % · 1 screen · running").waitFor(slow);
    await page.screenshot({ path: join(artifactsDir, "updates-rollout.png"), fullPage: true });

    await page.getByRole("link", { name: "2026.12.1" }).click();
    await page.getByRole("heading", { name: "Rollout of 2026.12.1" }).waitFor(slow);
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByText("Paused", { exact: true }).waitFor(slow);
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByText("Running", { exact: true }).waitFor(slow);
    await page.getByRole("button", { name: "Healthy" }).click();
    await expect.poll(() => page.getByRole("row").filter({ hasText: "Healthy" }).count(), slow).toBe(2);
    await page.getByRole("button", { name: "Abort" }).click();
    await page.getByText("Aborted", { exact: true }).waitFor(slow);
    await page.getByText("Wave 2 · 100 % · 1 screen · stopped").waitFor(slow);
    await page.screenshot({ path: join(artifactsDir, "updates-rollout-detail.png"), fullPage: true });

    // A screen's page shows its OS image and its update history.
    const updated = screens.find((s) => s.imageVersion === "2026.12.1") as SimulatedUpdateScreen;
    await page.getByRole("link", { name: updated.name }).click();
    await page.getByRole("heading", { name: "OS updates" }).waitFor(slow);
    await page.getByText("2026.12.1 (slot B)").waitFor(slow);
    const history = page.locator(".card", { has: page.getByRole("heading", { name: "OS updates" }) });
    await expect.poll(() => history.getByRole("row").count(), slow).toBe(1 + 5);
    await history.getByRole("cell", { name: "Healthy" }).waitFor(slow);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it("shows a viewer the releases and rollouts without the forms that change them", async () => {
    await signIn("vic@demo.test");
    await page.getByRole("link", { name: "OS updates" }).click();
    await page.getByRole("cell", { name: "kernel 6.6, new player" }).waitFor(slow);
    await expect(page.getByRole("form", { name: "Upload a release" }).count()).resolves.toBe(0);
    await expect(page.getByRole("form", { name: "New rollout" }).count()).resolves.toBe(0);
    await expect(page.getByRole("button", { name: "Delete" }).count()).resolves.toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
