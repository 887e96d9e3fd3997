import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artifactsDir, distDir, ensureConsoleBuilt, launchBrowser, type TestBrowser } from "./browser.ts";
import {
  type FakeApi,
  fakePairingCode,
  fakePassword,
  fakeTenant,
  fakeUsers,
  startFakeApi,
  unusableFileName,
} from "./fake-api.ts";

/**
 * The console in a real Chromium against the fake control plane (fake-api.ts). To run the same
 * flows against a real server, set AVTECH_CONSOLE_URL plus AVTECH_CONSOLE_TENANT,
 * AVTECH_CONSOLE_ADMIN_EMAIL, AVTECH_CONSOLE_VIEWER_EMAIL and AVTECH_CONSOLE_PASSWORD; the checks
 * that depend on the fake's data (10,000 screens, the refused upload) are declared with
 * {@link onTheFake}, so against a real server they are reported as skipped, never passed.
 */
const real = process.env.AVTECH_CONSOLE_URL;
/** A check that needs the fake's data: it runs only when AVTECH_CONSOLE_URL is unset. */
const onTheFake = it.runIf(!real);
const run = promisify(execFile);
/** Polls get 10 s: the machine is shared and a loaded Chromium can take seconds to settle. */
const slow = { timeout: 10_000 };
const account = {
  tenant: process.env.AVTECH_CONSOLE_TENANT ?? fakeTenant,
  admin: process.env.AVTECH_CONSOLE_ADMIN_EMAIL ?? fakeUsers.admin.email,
  viewer: process.env.AVTECH_CONSOLE_VIEWER_EMAIL ?? fakeUsers.viewer.email,
  password: process.env.AVTECH_CONSOLE_PASSWORD ?? fakePassword,
};

let fake: FakeApi | undefined;
/** The fake control plane, inside an {@link onTheFake} check. */
function theFake(): FakeApi {
  if (!fake) throw new Error("this check needs the fake control plane (AVTECH_CONSOLE_URL is set)");
  return fake;
}
let baseUrl: string;
let browser: TestBrowser;
let page: Page;
const pageErrors: string[] = [];

let clips: string;

/** Encodes a test-pattern WebM clip with ffmpeg (VP9 decodes in any Chromium build). */
async function makeClip(name: string, seconds: number): Promise<string> {
  const path = join(clips, name);
  await run("ffmpeg", [
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    `testsrc=duration=${seconds}:size=320x180:rate=10`,
    "-c:v",
    "libvpx-vp9",
    "-b:v",
    "100k",
    path,
  ]);
  return path;
}

beforeAll(async () => {
  clips = await mkdtemp(join(tmpdir(), "avtech-console-clips-"));
  const [clip] = await Promise.all([
    makeClip("spring-promo.webm", 2),
    makeClip("too-short.webm", 0.4),
    ensureConsoleBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  if (real) {
    baseUrl = real;
  } else {
    fake = await startFakeApi({ distDir, screenCount: 10_000, clipFile: clip });
    baseUrl = fake.url;
  }
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("dialog", (dialog) => void dialog.accept());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await fake?.close();
  if (clips) await rm(clips, { recursive: true, force: true });
});

async function signIn(email: string): Promise<void> {
  // Start signed out whatever an earlier test left behind.
  await page.goto(baseUrl);
  await page.evaluate("sessionStorage.clear()");
  await page.reload();
  await page.getByLabel("Organisation").fill(account.tenant);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Screens" }).waitFor();
}

async function signOut(): Promise<void> {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to your fleet" }).waitFor();
}

async function shot(name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(artifactsDir, `${name}.png`), fullPage });
}

describe("console as an admin", () => {
  it("refuses a wrong password with a readable message", async () => {
    await page.goto(baseUrl);
    await page.getByLabel("Organisation").fill(account.tenant);
    await page.getByLabel("Email").fill(account.admin);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = await page.getByRole("alert").textContent();
    expect(alert).toMatch(/password/i);
    expect(alert).not.toMatch(/sign in again/i);
    await shot("sign-in");
  });

  it("signs in and shows the live fleet, virtualised", async () => {
    await signIn(account.admin);
    await page.getByText("Live", { exact: true }).waitFor();
    await page.locator("[data-testid=fleet-rows] tr.tr").first().waitFor();
    const rendered = await page.locator("[data-testid=fleet-rows] tr.tr").count();
    expect(rendered).toBeGreaterThan(5);
    // Only the visible rows (plus overscan) exist in the DOM, whatever the fleet size.
    expect(rendered).toBeLessThan(40);
    await shot("fleet");
  });

  onTheFake("counts every one of the fake's 10,000 screens while rendering only the visible rows", async () => {
    await expect(page.locator(".sub").first().textContent()).resolves.toContain("10,000 screens");
    const table = page.getByRole("table", { name: "Screens" });
    await expect(table.getAttribute("aria-rowcount")).resolves.toBe("10001");
  });

  onTheFake("applies streamed upserts to visible rows without moving the table", async () => {
    const firstRow = page.locator("[data-testid=fleet-rows] tr.tr").first();
    await expect(firstRow.textContent()).resolves.toContain("45 °C");
    const rows = page.getByTestId("fleet-rows");
    await rows.evaluate((el: { scrollTop: number }) => {
      el.scrollTop = 0;
    });
    const stop = theFake().streamHealth(2_000);
    try {
      // The fake's first upsert is Store 00001 at 49 °C.
      await expect.poll(() => firstRow.textContent(), slow).toContain("49 °C");
    } finally {
      stop();
    }
    await expect(rows.evaluate((el: { scrollTop: number }) => el.scrollTop)).resolves.toBe(0);
  });

  it("fits 1366×768 and a tablet without horizontal scrolling", async () => {
    const overflow = () => page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    await expect.poll(overflow, slow).toBe(0);
    await page.setViewportSize({ width: 820, height: 1180 });
    try {
      await expect.poll(overflow, slow).toBe(0);
      await shot("fleet-tablet");
    } finally {
      await page.setViewportSize({ width: 1366, height: 768 });
    }
  });

  onTheFake("filters the fleet by search text", async () => {
    await page.getByPlaceholder("Search name, hardware id or tag").fill("Store 00042");
    await expect.poll(() => page.locator("[data-testid=fleet-rows] tr.tr").count(), slow).toBe(1);
    await page.getByRole("link", { name: "Store 00042" }).click();
    await page.getByRole("heading", { name: "Store 00042" }).waitFor();
    await page.getByText("Last 24 hours").waitFor();
    await expect.poll(() => page.locator(".chart-box canvas").count(), slow).toBe(3);
    await page.getByRole("button", { name: "Reboot" }).waitFor();
    await shot("screen");
    const settings = page.getByRole("form", { name: "Screen settings" });
    await settings.getByLabel("Name").fill("Store 00042 — entrance");
    await settings.getByRole("button", { name: "Save settings" }).click();
    // The change comes back over WatchFleet and renames the page.
    await page.getByRole("heading", { name: "Store 00042 — entrance" }).waitFor();
    await page.getByRole("button", { name: "Screenshot" }).click();
    await page.getByRole("img", { name: "What the screen showed" }).waitFor();
    await expect(
      page
        .getByRole("img", { name: "What the screen showed" })
        .evaluate((img: { naturalWidth: number }) => img.naturalWidth),
    ).resolves.toBe(320);
    await shot("screen-commands", true);
  });

  onTheFake("pairs a new screen by the code it shows", async () => {
    await page.goto(`${baseUrl}/#/fleet`);
    await page.getByRole("button", { name: "Add screen" }).click();
    const dialog = page.getByRole("dialog", { name: "Add a screen" });
    await dialog.getByLabel("Pairing code").fill("WRONG-123");
    await dialog.getByLabel("Name").fill("Reception");
    await dialog.getByRole("button", { name: "Claim screen" }).click();
    await dialog.getByText("check the code on the screen").waitFor();
    await dialog.getByLabel("Pairing code").fill(fakePairingCode.toLowerCase());
    await dialog.getByRole("button", { name: "Claim screen" }).click();
    await page.getByRole("heading", { name: "Reception" }).waitFor();
  });

  onTheFake("lets an admin add a user", async () => {
    await page.goto(`${baseUrl}/#/users`);
    const form = page.getByRole("form", { name: "New user" });
    await form.getByLabel("Email").fill("new.editor@demo.test");
    await form.getByLabel("Name").fill("Nell Editor");
    await form.getByLabel("Role").selectOption({ label: "Editor" });
    await form.getByLabel("Initial password").fill("a long enough password");
    await form.getByRole("button", { name: "Create user" }).click();
    await page.getByText("new.editor@demo.test", { exact: true }).waitFor();
    const tokenForm = page.getByRole("form", { name: "New API token" });
    await tokenForm.getByLabel("Token name").fill("CI deploys");
    await tokenForm.getByRole("button", { name: "Create token" }).click();
    // The secret is shown once, then the token can be revoked.
    await page.getByText(/^avt_[0-9a-f]{32}$/).waitFor();
    await page.getByRole("button", { name: "Revoke" }).click();
    await page.getByText("Revoked", { exact: true }).waitFor();
    await shot("users");
  });

  onTheFake("manages groups and explains why a group in use cannot be deleted", async () => {
    await page.goto(`${baseUrl}/#/fleet`);
    await page.getByRole("button", { name: "Groups" }).click();
    const dialog = page.getByRole("dialog", { name: "Groups" });
    await dialog.getByRole("button", { name: "Delete group Lobby" }).click();
    await dialog.getByText("move them out first").waitFor();
    await dialog.getByLabel("New group").fill("Drive-through");
    await dialog.getByRole("button", { name: "Create" }).click();
    await dialog.getByText("Drive-through").waitFor();
    await dialog.getByRole("button", { name: "Close" }).click();
  });

  it("shows storage against the quota", async () => {
    await page.goto(`${baseUrl}/#/library`);
    await page.getByRole("heading", { name: "Library" }).waitFor();
    await expect.poll(() => page.getByTestId("storage").textContent(), slow).toMatch(/of .*B · \d+ clips/);
  });

  onTheFake("uploads several clips with per-file results", async () => {
    // Thumbnails are fetched with the session token and shown from blob URLs.
    await expect.poll(() => page.locator(".thumb img").count(), slow).toBeGreaterThanOrEqual(3);
    await page.getByLabel("Upload video files").setInputFiles([
      { name: "spring-promo.webm", mimeType: "video/webm", buffer: await readFile(join(clips, "spring-promo.webm")) },
      { name: "too-short.webm", mimeType: "video/webm", buffer: await readFile(join(clips, "too-short.webm")) },
      { name: unusableFileName, mimeType: "video/mp4", buffer: Buffer.alloc(1024, 2) },
      { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") },
    ]);
    const uploads = page.getByRole("list", { name: "Uploads" });
    await uploads.getByText("Uploaded").waitFor({ timeout: 15_000 });
    await uploads.getByText("ffprobe found no video stream").waitFor({ timeout: 15_000 });
    await uploads.getByText("is not a video file").waitFor();
    // The duration is read in the browser before any byte is sent.
    await uploads.getByText("clips must last at least 1 s").waitFor();
    await page.getByRole("heading", { name: "spring-promo" }).waitFor();
    await expect.poll(() => page.locator(".thumb img").count(), slow).toBeGreaterThanOrEqual(3);
    await shot("library");
  });

  onTheFake("explains why a clip in use cannot be deleted", async () => {
    await page.getByRole("button", { name: "Delete Morning menu" }).click();
    await page.getByText('used by playlist "Daytime"').waitFor();
  });

  onTheFake("shows the default playlists, pre-selects the saved one and updates after setting it", async () => {
    await page.goto(`${baseUrl}/#/schedules`);
    const defaults = page.getByRole("list", { name: "Default playlists" }).getByRole("listitem");
    // The fake starts with a default for the "Menu boards" group only.
    await expect
      .poll(() => defaults.allTextContents(), slow)
      .toEqual(["Every screen → Standby slate (none)", "Group Menu boards → Daytime"]);
    const form = page.getByRole("form", { name: "Default playlist" });
    const playlist = form.getByLabel("Playlist");
    await expect(playlist.inputValue()).resolves.toBe("");
    await playlist.selectOption({ label: "Daytime" }, slow);
    await form.getByRole("button", { name: "Set default" }).click(slow);
    await form.getByText("Saved. Publish to send it to screens.").waitFor(slow);
    await expect
      .poll(() => defaults.allTextContents(), slow)
      .toEqual(["Every screen → Daytime", "Group Menu boards → Daytime"]);
    await expect(playlist.inputValue()).resolves.toBe("pl-1");

    // A fresh page starts from the saved defaults: every screen's, then each group's own.
    await page.reload();
    await expect.poll(() => playlist.inputValue(), slow).toBe("pl-1");
    await page.getByLabel("Target").selectOption({ label: "A group" }, slow);
    // A select's accessible name also holds its selected option ("Group Choose…").
    const groupPicker = page.getByRole("combobox", { name: /^Group/ });
    await groupPicker.selectOption({ label: "Menu boards" }, slow);
    await expect.poll(() => playlist.inputValue(), slow).toBe("pl-1");
    await groupPicker.selectOption({ label: "Lobby" }, slow);
    await expect.poll(() => playlist.inputValue(), slow).toBe("");
    // A group without its own default plays every screen's, and the empty choice says so.
    await expect(playlist.locator("option").first().textContent()).resolves.toBe("Same as every screen (Daytime)");
    await shot("schedules-defaults", true);
    expect(pageErrors).toEqual([]);
  });

  it("renders the playlists", async () => {
    await page.goto(`${baseUrl}/#/playlists`);
    await page.getByRole("heading", { name: "Playlists" }).waitFor();
    await shot("playlists");
  });

  onTheFake("reorders a playlist's clips and previews it in the page", async () => {
    await page.getByRole("button", { name: /Daytime/ }).click();
    await page.getByText("total 0:45").waitFor();
    await page.getByRole("button", { name: "Move Summer sale up" }).click();
    await expect(page.getByRole("list", { name: "Clips in play order" }).textContent()).resolves.toMatch(
      /Summer sale.*Morning menu/,
    );
    // The preview fetches the clip with the session token and plays it in the page.
    await page.getByRole("button", { name: "Preview" }).click();
    const video = page.getByLabel("Playlist preview");
    await expect.poll(() => video.evaluate((v: { currentTime: number }) => v.currentTime), slow).toBeGreaterThan(0);
    await shot("playlists");
  });

  it("renders the schedules' week", async () => {
    await page.goto(`${baseUrl}/#/schedules`);
    await page.getByRole("figure", { name: "Week of dayparts" }).waitFor();
    await shot("schedules", true);
  });

  onTheFake("checks what a screen plays at a given time, in the browser and on the server", async () => {
    // Monday 2026-03-02 08:00 falls in "Breakfast" (weekdays 06:00-10:30), evaluated in the
    // browser with the player's own evaluateSchedule.
    await page.getByLabel("Screen", { exact: true }).fill("Store 00001");
    await page.getByLabel("At", { exact: true }).fill("2026-03-02T08:00");
    await page.getByRole("button", { name: "Check" }).click();
    await page.getByText("Daytime (rule “Breakfast”)").waitFor();
    await page.getByText("Server preview: Daytime").waitFor();
    // "Late night" crosses midnight: 7 evenings plus 7 early mornings; "Breakfast" on 5 weekdays.
    await expect.poll(() => page.locator(".week-block").count(), slow).toBe(19);
    await shot("schedules", true);
  });

  it("shows what a publish would change", async () => {
    await page.goto(`${baseUrl}/#/publish`);
    await page.getByRole("button", { name: "Show changes" }).click();
    await page.getByText(/up to date|will change/).waitFor();
    await shot("publish-diff");
  });

  onTheFake("publishes and follows the screens' acknowledgements", async () => {
    await page.getByRole("button", { name: "Publish to 3 screens" }).click();
    // Acknowledgements arrive over WatchFleet: two screens sync, one fails with its reason.
    await page.getByText("2 synced · 0 pending · 1 failed").waitFor({ timeout: 10_000 });
    await page.getByText("disk full (needs 120 MB, 40 MB free)").waitFor();
    await shot("publish-progress");
  });

  it("signs out with no page error on any page", async () => {
    await signOut();
    expect(pageErrors).toEqual([]);
  });
});

describe("console as a viewer", () => {
  it("shows no mutating controls", async () => {
    await signIn(account.viewer);
    await page.locator("[data-testid=fleet-rows] tr.tr").first().waitFor();
    await expect(page.getByRole("button", { name: "Add screen" }).count()).resolves.toBe(0);
    await expect(page.getByRole("link", { name: "Users" }).count()).resolves.toBe(0);
    await page.goto(`${baseUrl}/#/library`);
    await page.getByTestId("storage").waitFor();
    await page.getByRole("list", { name: "Clips" }).locator("li").first().waitFor();
    await expect(page.getByRole("button", { name: "Choose files" }).count()).resolves.toBe(0);
    await expect(page.getByRole("button", { name: /^Delete/ }).count()).resolves.toBe(0);
    await shot("viewer-library");
    await page.goto(`${baseUrl}/#/schedules`);
    await page.getByRole("list", { name: "Default playlists" }).getByText("Every screen").waitFor();
    await expect(page.getByRole("form", { name: "Default playlist" }).count()).resolves.toBe(0);
    await page.goto(`${baseUrl}/#/publish`);
    await page.getByRole("button", { name: "Show changes" }).waitFor();
    await expect(page.getByRole("button", { name: /^Publish/ }).count()).resolves.toBe(0);
  });

  it("is refused by the server even without the UI", async () => {
    const token = await page.evaluate("sessionStorage.getItem('avtech.session')");
    expect(typeof token).toBe("string");
    const client = createClient(
      ContentService,
      createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }),
    );
    const refused = await client
      .deleteVideo({ id: "vid-3" }, { headers: { authorization: `Bearer ${String(token)}` } })
      .catch((err: unknown) => ConnectError.from(err));
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.PermissionDenied);
    await signOut();
    expect(pageErrors).toEqual([]);
  });
});
