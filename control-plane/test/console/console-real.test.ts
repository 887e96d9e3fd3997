import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FleetSimulator, startFleetSimulator } from "@avtech/fleet-sim";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminCommands } from "../../src/admin/index.ts";
import { type AssembledControlPlane, assembleControlPlane } from "../../src/assemble.ts";
import { createFsBlobStore } from "../../src/core/content/index.ts";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { loadConfig } from "../../src/platform/config/index.ts";
import { createLogger } from "../../src/platform/logger.ts";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { createMigratedDatabase, type MigratedDatabase } from "../lib/migrated-database.ts";
import { artifactsDir, ensureConsoleBuilt, launchBrowser, type TestBrowser } from "./browser.ts";

/**
 * The built console in Chromium against the REAL control plane, assembled as main.ts assembles it (fleet
 * plane on PostgreSQL, console files and /v1/videos served by the server itself), with two
 * simulated screens enrolled by key. Covers what the fake-API test cannot: the real upload path,
 * playlists, a rule, publish and the screens' acknowledgements.
 */
const tenant = "demo";
const password = "correct horse battery staple";
const adminEmail = "ada@demo.test";
const viewerEmail = "vic@demo.test";
/** Polls get 15 s: the machine is shared and a loaded Chromium can take seconds to settle. */
const slow = { timeout: 15_000 };

let db: MigratedDatabase;
let blobDir: string;
let controlPlane: AssembledControlPlane | undefined;
let simulator: FleetSimulator | undefined;
let clips: ClipFactory;
let browser: TestBrowser;
let page: Page;
let baseUrl: string;
/** A screen's own client, over gRPC on the h2c port as the player speaks it. */
let deviceClient: Client<typeof DeviceService>;
const pageErrors: string[] = [];
const files: Record<"promo" | "long" | "broken", string> = { promo: "", long: "", broken: "" };

beforeAll(async () => {
  [db, clips, blobDir] = await Promise.all([
    createMigratedDatabase(),
    createClipFactory(),
    mkdtemp(join(tmpdir(), "avtech-console-real-blobs-")),
    ensureConsoleBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  const config = loadConfig({
    env: { LOG_LEVEL: process.env.LOG_LEVEL },
    overrides: { listen: { host: "127.0.0.1", port: 0, http1Port: 0 }, database: { url: db.database.url }, blobDir },
  });
  controlPlane = await assembleControlPlane({
    config,
    orm: db.orm,
    blobs: createFsBlobStore(blobDir),
    logger: createLogger(config),
    clock: systemClock,
    heartbeatFlushMs: 200,
  });
  const addresses = await controlPlane.server.listen();
  baseUrl = addresses.http1Url;
  deviceClient = createClient(DeviceService, createGrpcTransport({ baseUrl: addresses.http2Url }));

  const admin = createAdminCommands(db.orm, config.defaultTenantQuota);
  await admin.createTenant({ slug: tenant });
  await admin.createUser({ tenant, email: adminEmail, password, role: "admin", displayName: "Ada Admin" });
  await admin.createUser({ tenant, email: viewerEmail, password, role: "viewer", displayName: "Vic Viewer" });
  const { secret } = await admin.createApiToken({ tenant, name: "enrollment", role: "admin" });
  const fleetClient = createClient(
    FleetService,
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      interceptors: [bearerToken(secret)],
    }),
  );
  const { enrollmentKey } = await fleetClient.createEnrollmentKey({ name: "console e2e" });
  simulator = await startFleetSimulator({
    baseUrl: addresses.http2Url,
    count: 2,
    enrollmentKey,
    hardwareIdPrefix: "console",
  });

  [files.promo, files.long] = await Promise.all([
    clips.video("spring-promo.mp4", { seconds: 2, size: "320x180" }),
    clips.video("too-long.mp4", { seconds: 25, size: "32x32", fps: 1 }),
    simulator.whenConnected(20_000),
  ]);
  files.broken = clips.path("broken.mp4");
  await writeFile(files.broken, Buffer.alloc(2048, 7));

  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("dialog", (dialog) => void dialog.accept());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await simulator?.stop();
  await controlPlane?.close(1000);
  await db?.close();
  await clips?.remove();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

async function signIn(email: string): Promise<void> {
  await page.goto(baseUrl);
  await page.evaluate("sessionStorage.clear()");
  await page.reload();
  await page.getByLabel("Organisation").fill(tenant);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Screens" }).waitFor(slow);
}

async function signOut(): Promise<void> {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to your fleet" }).waitFor();
}

async function shot(name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(artifactsDir, `real-${name}.png`), fullPage });
}

describe("console against the real control plane, as an admin", () => {
  it("signs in and lists the two enrolled screens", async () => {
    await signIn(adminEmail);
    await expect.poll(() => page.locator("[data-testid=fleet-rows] tr.tr").count(), slow).toBe(2);
    await shot("fleet");
  });

  it("uploads a clip and shows readable refusals for a 25 s clip and a broken file", async () => {
    await page.goto(`${baseUrl}/#/library`);
    await page.getByRole("heading", { name: "Library" }).waitFor();
    await page.getByLabel("Upload video files").setInputFiles([files.promo, files.long, files.broken]);
    const uploads = page.getByRole("list", { name: "Uploads" });
    await uploads.getByText("Uploaded", { exact: true }).waitFor(slow);
    // Refused by the browser's duration pre-check or by the server's ffprobe check, both in words.
    await uploads.getByText(/at most 20(\.0)? ?s|longer than|20 s/).waitFor(slow);
    await uploads.getByText("not a video that ffprobe can read").waitFor(slow);
    await page.getByRole("heading", { name: "spring-promo" }).waitFor(slow);
    await expect.poll(() => page.getByRole("list", { name: "Clips" }).locator("li").count(), slow).toBe(1);
    await expect.poll(() => page.getByTestId("storage").textContent(), slow).toMatch(/1 clip/);
    await shot("library");
  });

  it("builds a playlist whose preview fetches the clip from the server", async () => {
    await page.goto(`${baseUrl}/#/playlists`);
    await page.getByRole("button", { name: "New playlist" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Lobby loop");
    await page.getByLabel("Clip to add").selectOption({ index: 1 });
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await page.getByRole("button", { name: "Save" }).click();
    await page
      .getByRole("list", { name: "Playlists" })
      .getByRole("button", { name: /Lobby loop/ })
      .waitFor(slow);
    const media = page.waitForResponse((res) => /\/v1\/videos\/[^/]+\/file$/.test(res.url()));
    await page.getByRole("button", { name: "Preview" }).click();
    expect((await media).status()).toBe(200);
    await page.getByLabel("Playlist preview").waitFor();
    await shot("playlists");
  });

  it("schedules the playlist for every screen and publishes it until both screens are synced", async () => {
    await page.goto(`${baseUrl}/#/schedules`);
    const form = page.getByRole("form", { name: "New rule" });
    await form.getByLabel("Name").fill("All day");
    await form.getByLabel("Playlist").selectOption({ label: "Lobby loop" });
    await form.getByRole("button", { name: "Add rule" }).click();
    await expect.poll(() => page.locator(".week-block").count(), slow).toBeGreaterThan(0);
    await shot("schedules", true);

    await page.goto(`${baseUrl}/#/publish`);
    await page.getByRole("button", { name: "Show changes" }).click();
    // Every progress line the page shows, so the pending → synced transition can be checked.
    await page.evaluate(`(() => {
      const seen = (window.avtechProgress = []);
      new MutationObserver(() => {
        const line = document.body.innerText.match(/\\d+ synced · \\d+ pending · \\d+ failed/)?.[0];
        if (line && seen.at(-1) !== line) seen.push(line);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    })()`);
    await page.getByRole("button", { name: "Publish to 2 screens" }).click();
    // The screens download the clip, apply the state and acknowledge over their streams.
    await page.getByText("2 synced · 0 pending · 0 failed").waitFor(slow);
    const progress = (await page.evaluate("window.avtechProgress")) as string[];
    expect(progress[0]).toMatch(/^[01] synced · [12] pending · 0 failed$/);
    expect(progress.at(-1)).toBe("2 synced · 0 pending · 0 failed");
    await shot("publish-progress");
    await page.goto(`${baseUrl}/#/fleet`);
    await expect
      .poll(
        () =>
          page
            .locator("[data-testid=fleet-rows]")
            .getByText(/synced/i)
            .count(),
        slow,
      )
      .toBe(2);
    await signOut();
    expect(pageErrors).toEqual([]);
  });
});

describe("console against the real control plane, default playlists", () => {
  it("shows the default for every screen once it is set, and pre-selects it on a fresh page", async () => {
    await signIn(adminEmail);
    await page.goto(`${baseUrl}/#/schedules`);
    const defaults = page.getByRole("list", { name: "Default playlists" }).getByRole("listitem");
    await expect.poll(() => defaults.allTextContents(), slow).toEqual(["Every screen → Standby slate (none)"]);
    const form = page.getByRole("form", { name: "Default playlist" });
    const playlist = form.getByLabel("Playlist");
    const selected = () => playlist.locator("option:checked").textContent();
    await expect(selected()).resolves.toBe("Standby slate (none)");
    await playlist.selectOption({ label: "Lobby loop" }, slow);
    await form.getByRole("button", { name: "Set default" }).click(slow);
    await form.getByText("Saved. Publish to send it to screens.").waitFor(slow);
    await expect.poll(() => defaults.allTextContents(), slow).toEqual(["Every screen → Lobby loop"]);
    await page.reload();
    await expect.poll(selected, slow).toBe("Lobby loop");
    await shot("schedules-defaults", true);
    await signOut();
    expect(pageErrors).toEqual([]);
  });
});

describe("console against the real control plane, as a viewer", () => {
  it("sees the library, playlists, default playlists and publish page without mutating controls", async () => {
    await signIn(viewerEmail);
    await expect.poll(() => page.locator("[data-testid=fleet-rows] tr.tr").count(), slow).toBe(2);
    await expect(page.getByRole("button", { name: "Add screen" }).count()).resolves.toBe(0);
    await expect(page.getByRole("link", { name: "Users" }).count()).resolves.toBe(0);
    await page.goto(`${baseUrl}/#/library`);
    await page.getByRole("list", { name: "Clips" }).locator("li").first().waitFor(slow);
    await expect(page.getByRole("button", { name: "Choose files" }).count()).resolves.toBe(0);
    await expect(page.getByRole("button", { name: /^Delete/ }).count()).resolves.toBe(0);
    await shot("viewer-library");
    await page.goto(`${baseUrl}/#/playlists`);
    await page.getByRole("heading", { name: "Playlists" }).waitFor();
    await expect(page.getByRole("button", { name: "New playlist" }).count()).resolves.toBe(0);
    // The server lets a viewer read the defaults; only the control to change them is missing.
    await page.goto(`${baseUrl}/#/schedules`);
    await expect
      .poll(() => page.getByRole("list", { name: "Default playlists" }).getByRole("listitem").allTextContents(), slow)
      .toEqual(["Every screen → Lobby loop"]);
    await expect(page.getByRole("form", { name: "Default playlist" }).count()).resolves.toBe(0);
    await page.goto(`${baseUrl}/#/publish`);
    await page.getByRole("button", { name: "Show changes" }).waitFor();
    await expect(page.getByRole("button", { name: /^Publish/ }).count()).resolves.toBe(0);
    await signOut();
    expect(pageErrors).toEqual([]);
  });
});

describe("console against the real control plane, screen commands and pairing", () => {
  it("sends Identify to a simulated screen and shows the command as done", { timeout: 90_000 }, async () => {
    await signIn(adminEmail);
    await page.locator("[data-testid=fleet-rows] tr.tr").first().getByRole("link").click();
    await page.getByRole("heading", { name: "Recent commands" }).waitFor(slow);
    await page.getByRole("button", { name: "Identify", exact: true }).click();
    await page.getByText("Sent. Offline screens get it when they reconnect.").waitFor(slow);
    // The simulator answers every command with SUCCEEDED, which the history shows as "Done"
    // once its 5 s refetch (or the invalidation after sending) picks the result up. A longer bound
    // than `slow`: with both browser test files on 2 cores the result once took longer than 15 s.
    await page
      .locator("li")
      .filter({ hasText: "Identify" })
      .filter({ hasText: "Done" })
      .first()
      .waitFor({ timeout: 45_000 });
    await shot("identify", true);
    expect(pageErrors).toEqual([]);
  });

  it("claims a screen by the pairing code it got from Register, typed lowercase without the dash", async () => {
    const registered = await deviceClient.register({
      hardwareId: "console-pairing-0001",
      facts: { model: "Raspberry Pi 4 Model B Rev 1.5", osVersion: "Debian GNU/Linux 12 (bookworm)" },
    });
    if (registered.outcome.case !== "pairing")
      throw new Error(`expected a pairing ticket, got ${registered.outcome.case}`);
    const { pairingCode, pairingSecret } = registered.outcome.value;
    expect(pairingCode).toMatch(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);
    const waiting = await deviceClient.completePairing({ pairingSecret });
    expect(waiting.outcome.case).toBe("waiting");

    await page.goto(`${baseUrl}/#/fleet`);
    await page.getByRole("button", { name: "Add screen" }).click();
    const dialog = page.getByRole("dialog", { name: "Add a screen" });
    await dialog.getByLabel("Pairing code").fill(pairingCode.replace("-", "").toLowerCase());
    await dialog.getByLabel("Name").fill("Reception");
    await dialog.getByRole("button", { name: "Claim screen" }).click();
    // A successful claim opens the new screen's page.
    await page.getByRole("heading", { name: "Reception" }).waitFor(slow);
    await page.goto(`${baseUrl}/#/fleet`);
    await page.locator("[data-testid=fleet-rows]").getByRole("link", { name: "Reception" }).waitFor(slow);
    await expect.poll(() => page.locator("[data-testid=fleet-rows] tr.tr").count(), slow).toBe(3);
    await shot("pairing");

    const claimed = await deviceClient.completePairing({ pairingSecret });
    if (claimed.outcome.case !== "claimed") throw new Error(`expected credentials, got ${claimed.outcome.case}`);
    expect(claimed.outcome.value.screenName).toBe("Reception");
    expect(claimed.outcome.value.deviceId).not.toBe("");
    expect(claimed.outcome.value.deviceToken.length).toBeGreaterThanOrEqual(43);
    await signOut();
    expect(pageErrors).toEqual([]);
  });
});

describe("console against the real control plane, enrollment keys", () => {
  it("creates a key whose line an installer pastes into avtech.toml, shows its use, and revokes it", async () => {
    await signIn(adminEmail);
    await page.getByRole("button", { name: "Enrollment keys" }).click();
    const dialog = page.getByRole("dialog", { name: "Enrollment keys" });
    // The key the suite enrolled its simulated screens with is listed, without its secret.
    await dialog.getByRole("cell", { name: "console e2e", exact: true }).waitFor(slow);
    await dialog.getByLabel("Name").fill("Harbour site");
    await dialog.getByLabel("Screens it may enroll").fill("1");
    await dialog.getByRole("button", { name: "Create key" }).click();
    const line = await dialog.getByLabel("avtech.toml line for the installer").inputValue();
    const secret = /^enrollment_key = "(ave_[^"]+)"$/.exec(line)?.[1];
    expect(secret, line).toBeDefined();

    const enrolled = await deviceClient.register({ hardwareId: "console-key-0001", enrollmentKey: secret ?? "" });
    expect(enrolled.outcome.case).toBe("enrolled");
    const row = dialog.getByRole("row").filter({ hasText: "Harbour site" });
    // The list refreshes on the next query; reopening the dialog refetches it.
    await dialog.getByRole("button", { name: "Close" }).click();
    await page.getByRole("button", { name: "Enrollment keys" }).click();
    await expect.poll(() => row.textContent(), slow).toContain("1 of 1");
    expect(await row.textContent()).toContain("used up");
    await shot("enrollment-keys");

    await dialog.getByRole("button", { name: "Revoke key console e2e" }).click();
    await dialog.getByRole("row").filter({ hasText: "console e2e" }).filter({ hasText: "revoked" }).waitFor(slow);
    await expect(
      deviceClient.register({ hardwareId: "console-key-0002", enrollmentKey: secret ?? "" }),
    ).rejects.toThrow(/unknown, expired or used up/);
    await dialog.getByRole("button", { name: "Close" }).click();
    await signOut();
    expect(pageErrors).toEqual([]);
  });

  it("is not offered to a viewer", async () => {
    await signIn(viewerEmail);
    expect(await page.getByRole("button", { name: "Enrollment keys" }).count()).toBe(0);
    await signOut();
  });
});
