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
import { createClipFactory } from "../lib/clips.ts";
import { artifactsDir, distDir, ensureConsoleBuilt, launchBrowser, type TestBrowser } from "./browser.ts";
import { type FakeApi, unusableFileName } from "./fake-api.ts";
import { type ConsoleTarget, startFakeTarget, startRealTarget, type TargetFiles } from "./targets.ts";

/**
 * The console in a real Chromium, the same flows against two servers (targets.ts): the fake
 * control plane (fake-api.ts) and the real one (PostgreSQL, the server as main.ts assembles it,
 * seeded through its API). Every `it` runs against both, so a fake that drifts from the real
 * server fails here. Checks that need the fake's own data (10,000 screens, its clips, playlist,
 * rules and pairing code, streamed health, the refused upload) are declared with `fakeOnly`:
 * they run against the fake only and their names start with "fake only:". The real control
 * plane's own flows (upload, publish with simulated screens, pairing, enrollment keys) are in
 * console-real.test.ts.
 */
const targets = [
  { name: "the fake API", kind: "fake", start: startFakeTarget },
  { name: "the real control plane", kind: "real", start: startRealTarget },
] as const;

const run = promisify(execFile);
/** Polls get 10 s: the machine is shared and a loaded Chromium can take seconds to settle. */
const slow = { timeout: 10_000 };

let browser: TestBrowser;
let clips: string;
let files: TargetFiles;

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
  const mp4 = await createClipFactory();
  const [webmClip, , morning, summer] = await Promise.all([
    makeClip("spring-promo.webm", 2),
    makeClip("too-short.webm", 0.4),
    mp4.video("morning-menu.mp4", { seconds: 2, size: "320x180" }),
    mp4.video("summer-sale.mp4", { seconds: 3, size: "320x180" }),
    ensureConsoleBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  files = { distDir, webmClip, mp4Clips: [morning, summer] };
  cleanups.push(() => mp4.remove());
  // Both targets start now, so the real control plane is migrated and seeded while the browser
  // runs the fake's flows; each describe awaits its own target.
  for (const { kind, start } of targets) {
    const starting = start(files);
    // Handled here so a failed start is not an unhandled rejection before its describe awaits it.
    starting.catch(() => undefined);
    started.set(kind, starting);
    cleanups.push(() => starting.then((target) => target.close()).catch(() => undefined));
  }
  browser = await launchBrowser();
}, 120_000);

const cleanups: (() => Promise<unknown>)[] = [];
/** Each target's start, begun in the file's beforeAll. */
const started = new Map<(typeof targets)[number]["kind"], Promise<ConsoleTarget>>();
afterAll(async () => {
  await browser?.close();
  for (const cleanup of cleanups.reverse()) await cleanup();
  if (clips) await rm(clips, { recursive: true, force: true });
});

describe.each(targets)("console against $name", ({ kind }) => {
  /** A check that needs the fake's own data: declared against the fake only, named as such. */
  const fakeOnly = (name: string, check: () => Promise<void>) => {
    if (kind === "fake") it(`fake only: ${name}`, check);
  };
  let target: ConsoleTarget;
  let page: Page;
  let baseUrl: string;
  const pageErrors: string[] = [];

  /** The fake control plane, inside a {@link fakeOnly} check. */
  function theFake(): FakeApi {
    if (!target.fake) throw new Error("this check needs the fake control plane");
    return target.fake;
  }

  beforeAll(async () => {
    const starting = started.get(kind);
    if (!starting) throw new Error(`the ${kind} target was not started`);
    target = await starting;
    baseUrl = target.url;
    page = await browser.context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("dialog", (dialog) => void dialog.accept());
  }, 120_000);

  afterAll(async () => {
    await page?.close();
  });

  async function signIn(email: string): Promise<void> {
    // Start signed out whatever an earlier test left behind.
    await page.goto(baseUrl);
    await page.evaluate("sessionStorage.clear()");
    await page.reload();
    await page.getByLabel("Organisation").fill(target.tenant);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(target.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Screens" }).waitFor();
  }

  async function signOut(): Promise<void> {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to your fleet" }).waitFor();
  }

  /** Screenshots of the fake keep their old names; the real server's get a `shared-real-` prefix. */
  async function shot(name: string, fullPage = false): Promise<void> {
    const file = kind === "fake" ? name : `shared-real-${name}`;
    await page.screenshot({ path: join(artifactsDir, `${file}.png`), fullPage });
  }

  describe("as an admin", () => {
    it("refuses a wrong password with a readable message", async () => {
      await page.goto(baseUrl);
      await page.getByLabel("Organisation").fill(target.tenant);
      await page.getByLabel("Email").fill(target.admin);
      await page.getByLabel("Password").fill("wrong password");
      await page.getByRole("button", { name: "Sign in" }).click();
      const alert = await page.getByRole("alert").textContent();
      expect(alert).toMatch(/password/i);
      expect(alert).not.toMatch(/sign in again/i);
      await shot("sign-in");
    });

    it("signs in and shows the live fleet, virtualised", async () => {
      await signIn(target.admin);
      await page.getByText("Live", { exact: true }).waitFor();
      await page.locator("[data-testid=fleet-rows] tr.tr").first().waitFor();
      const rendered = await page.locator("[data-testid=fleet-rows] tr.tr").count();
      expect(rendered).toBeGreaterThan(5);
      // Only the visible rows (plus overscan) exist in the DOM, whatever the fleet size.
      expect(rendered).toBeLessThan(40);
      await shot("fleet");
    });

    fakeOnly("counts every one of the fake's 10,000 screens while rendering only the visible rows", async () => {
      await expect(page.locator(".sub").first().textContent()).resolves.toContain("10,000 screens");
      const table = page.getByRole("table", { name: "Screens" });
      await expect(table.getAttribute("aria-rowcount")).resolves.toBe("10001");
    });

    fakeOnly("applies streamed upserts to visible rows without moving the table", async () => {
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
      const overflow = () =>
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
      await expect.poll(overflow, slow).toBe(0);
      await page.setViewportSize({ width: 820, height: 1180 });
      try {
        await expect.poll(overflow, slow).toBe(0);
        await shot("fleet-tablet");
      } finally {
        await page.setViewportSize({ width: 1366, height: 768 });
      }
    });

    fakeOnly("filters the fleet by search text", async () => {
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

    it("pairs a new screen by the code it shows", async () => {
      const code = await target.pairingCode();
      await page.goto(`${baseUrl}/#/fleet`);
      await page.getByRole("button", { name: "Add screen" }).click();
      const dialog = page.getByRole("dialog", { name: "Add a screen" });
      await dialog.getByLabel("Pairing code").fill("WRONG-123");
      await dialog.getByLabel("Name").fill("Reception");
      await dialog.getByRole("button", { name: "Claim screen" }).click();
      await dialog.getByText("check the code on the screen").waitFor();
      await dialog.getByLabel("Pairing code").fill(code.toLowerCase());
      await dialog.getByRole("button", { name: "Claim screen" }).click();
      await page.getByRole("heading", { name: "Reception" }).waitFor();
    });

    it("lets an admin add a user", async () => {
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
      await page.getByText(/^avt_[\w-]{43}$/).waitFor();
      const token = page.getByRole("listitem").filter({ hasText: "CI deploys" });
      await token.getByRole("button", { name: "Revoke" }).click();
      await token.getByText("Revoked", { exact: true }).waitFor();
      await shot("users");
    });

    it("manages groups and explains why a group in use cannot be deleted", async () => {
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

    fakeOnly("uploads several clips with per-file results", async () => {
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
      await uploads.getByText("not a video that ffprobe can read").waitFor({ timeout: 15_000 });
      await uploads.getByText("is not a video file").waitFor();
      // The duration is read in the browser before any byte is sent.
      await uploads.getByText("clips must last at least 1 s").waitFor();
      await page.getByRole("heading", { name: "spring-promo" }).waitFor();
      await expect.poll(() => page.locator(".thumb img").count(), slow).toBeGreaterThanOrEqual(3);
      await shot("library");
    });

    it("explains why a clip in use cannot be deleted", async () => {
      await page.goto(`${baseUrl}/#/library`);
      await page.getByRole("button", { name: "Delete Morning menu" }).click();
      await page.getByText('used by playlist "Daytime"').waitFor();
    });

    it("shows the default playlists, pre-selects the saved one and updates after setting it", async () => {
      await page.goto(`${baseUrl}/#/schedules`);
      const defaults = page.getByRole("list", { name: "Default playlists" }).getByRole("listitem");
      // Both targets start with a default for the "Menu boards" group only.
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
      const selected = () => playlist.locator("option:checked").textContent();
      await expect(selected()).resolves.toBe("Daytime");

      // A fresh page starts from the saved defaults: every screen's, then each group's own.
      await page.reload();
      await expect.poll(selected, slow).toBe("Daytime");
      await page.getByLabel("Target").selectOption({ label: "A group" }, slow);
      // A select's accessible name also holds its selected option ("Group Choose…").
      const groupPicker = page.getByRole("combobox", { name: /^Group/ });
      await groupPicker.selectOption({ label: "Menu boards" }, slow);
      await expect.poll(selected, slow).toBe("Daytime");
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

    fakeOnly("reorders a playlist's clips and previews it in the page", async () => {
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

    fakeOnly("checks what a screen plays at a given time, in the browser and on the server", async () => {
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

    fakeOnly("publishes and follows the screens' acknowledgements", async () => {
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

  describe("as a viewer", () => {
    it("shows no mutating controls", async () => {
      await signIn(target.viewer);
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
      const headers = { authorization: `Bearer ${String(token)}` };
      // A clip that exists, so the refusal is about the role and not a missing video.
      const [video] = (await client.listVideos({}, { headers })).videos;
      expect(video).toBeDefined();
      const refused = await client
        .deleteVideo({ id: video?.id ?? "" }, { headers })
        .catch((err: unknown) => ConnectError.from(err));
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.PermissionDenied);
      await signOut();
      expect(pageErrors).toEqual([]);
    });
  });
});
