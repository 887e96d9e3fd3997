import { randomUUID } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { DeviceService, PlayEventSchema, PlayOutcome } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { Dimension, Granularity, ReportService } from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdminCommands } from "../../src/admin/index.ts";
import { loadConfig } from "../../src/platform/config/index.ts";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { eventually, openStream, type TestStream } from "../lib/fleet-device.ts";
import type { TestTenant } from "../lib/test-app.ts";
import { startUpdateApp, type UpdateApp } from "../lib/update-app.ts";
import { uploadMessages } from "../lib/upload.ts";
import { artifactsDir, ensureConsoleBuilt, launchBrowser, type TestBrowser } from "./browser.ts";

/**
 * The console's Reports page in Chromium against the real control plane (assembleControlPlane on
 * PostgreSQL, console files served by it). Two uploaded clips; screen "Lobby" plays them over the
 * past days and sends its play events over its device stream, as a player does, and keeps
 * heartbeating PLAYING; screen "Window" never connects. The page must chart exactly those plays,
 * rank the clips, show both screens' uptime, download CSVs that match the rollups, and show the
 * server's refusal of a range longer than reports.maxRangeDays (set to 60 here).
 *
 * Screens are in UTC (the fleet's default), so the page's zone is UTC and the plays, each at noon
 * UTC of a past day, fall on known dates.
 */
const password = "correct horse battery staple";
const slow = { timeout: 15_000 };
const dayMs = 86_400_000;

/** The UTC date `days` days before today. */
const daysAgo = (days: number) => new Date(Date.now() - days * dayMs).toISOString().slice(0, 10);
/** What Lobby played: clip, day (days before today, at noon UTC), how many plays and how long each. */
const seeded = [
  { clip: "promo", days: 1, plays: 3, seconds: 10 },
  { clip: "promo", days: 2, plays: 1, seconds: 10 },
  { clip: "menu", days: 2, plays: 2, seconds: 30 },
  { clip: "menu", days: 4, plays: 1, seconds: 30 },
  // Outside the last 7 days: only in the 30-day view.
  { clip: "promo", days: 12, plays: 4, seconds: 10 },
] as const;

describe("the console's Reports page on the real control plane", () => {
  let app: UpdateApp;
  let tenant: TestTenant;
  let clips: ClipFactory;
  let browser: TestBrowser;
  let page: Page;
  let lobby: TestStream;
  let heartbeats: NodeJS.Timeout | undefined;
  const videoIds: Record<"promo" | "menu", string> = { promo: "", menu: "" };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    [clips] = await Promise.all([createClipFactory(), ensureConsoleBuilt(), mkdir(artifactsDir, { recursive: true })]);
    app = await startUpdateApp({ reports: { maxRangeDays: 60 } });
    tenant = await app.createTenant("demo");
    const admin = createAdminCommands(app.db.orm, loadConfig({ env: {} }).defaultTenantQuota);
    await admin.createUser({ tenant: "demo", email: "ada@demo.test", password, role: "admin", displayName: "Ada" });
    await admin.createUser({ tenant: "demo", email: "vic@demo.test", password, role: "viewer", displayName: "Vic" });

    const content = app.client(ContentService, tenant.tokens.admin, "grpc");
    // Different lengths, so different files: the library deduplicates by content.
    for (const [key, name, seconds] of [
      ["promo", "Spring promo", 2],
      ["menu", "Lunch menu", 3],
    ] as const) {
      const path = await clips.video(`${key}.mp4`, { seconds });
      const { video } = await content.uploadVideo(uploadMessages(path, { fileName: `${key}.mp4`, name }));
      videoIds[key] = video?.id ?? "";
    }

    const fleet = app.client(FleetService, tenant.tokens.admin);
    const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "reports e2e" });
    // No bearer interceptor: the stream sends the device's own token.
    const device = createClient(DeviceService, createGrpcTransport({ baseUrl: app.addresses.http2Url }));
    const enroll = async (hostname: string) => {
      const answer = await device.register({ hardwareId: `reports-${hostname}`, enrollmentKey, facts: { hostname } });
      if (answer.outcome.case !== "enrolled") throw new Error(`${hostname} was not enrolled`);
      return answer.outcome.value;
    };
    const lobbyDevice = await enroll("Lobby");
    await enroll("Window");

    lobby = openStream(device, lobbyDevice.deviceToken);
    expect((await lobby.next()).message.case).toBe("welcome");
    const heartbeat = () =>
      lobby.send({ case: "heartbeat", value: { sentAt: timestampNow(), playback: { state: PlaybackState.PLAYING } } });
    heartbeat();
    heartbeats = setInterval(heartbeat, 1000);
    const events = seeded.flatMap(({ clip, days, plays, seconds }) =>
      Array.from({ length: plays }, (_, n) => {
        const start = Date.parse(`${daysAgo(days)}T12:00:00Z`) + n * 60_000;
        return create(PlayEventSchema, {
          eventId: randomUUID(),
          videoId: videoIds[clip],
          startedAt: timestampFromDate(new Date(start)),
          endedAt: timestampFromDate(new Date(start + seconds * 1000)),
          outcome: PlayOutcome.COMPLETED,
        });
      }),
    );
    lobby.send({ case: "playEvents", value: { events } });
    await eventually(async () => {
      const [row] = await app.query<{ plays: number }>(
        "SELECT coalesce(sum(plays), 0)::int AS plays FROM play_tenant_hourly WHERE tenant_id = $1",
        [tenant.id],
      );
      return row?.plays === events.length;
    }, 15_000);
    // Lobby's playing time is written by the heartbeat flush; wait for the first, so its bar has some.
    await eventually(async () => {
      const rows = await app.query("SELECT 1 FROM screen_uptime_hourly WHERE screen_id = $1", [lobbyDevice.deviceId]);
      return rows.length > 0;
    }, 15_000);

    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
  }, 120_000);

  afterAll(async () => {
    clearInterval(heartbeats);
    lobby?.hangUp();
    await browser?.close();
    await app?.close();
    await clips?.remove();
  });

  async function signIn(email: string): Promise<void> {
    await page.goto(app.addresses.http1Url);
    await page.evaluate("sessionStorage.clear()");
    await page.reload();
    await page.getByLabel("Organisation").fill("demo");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Reports" }).waitFor(slow);
  }

  /** Plays per bucket as the timeline's bars say (their tooltips: "2026-12-05: 3 plays, 30 s", "2026-12-05 12:00: …"). */
  async function barPlays(): Promise<Record<string, number>> {
    const titles = await page.locator(".report-chart .bar title").allTextContents();
    return Object.fromEntries(
      titles.map((title) => {
        const [, bucket, plays] = /^(.+): (\d+) plays?,/.exec(title) ?? [];
        return [bucket, Number(plays)];
      }),
    );
  }

  /** Seeded plays per date within the last `days` days, with a zero for every other date. */
  function expectedBars(days: number): Record<string, number> {
    const bars: Record<string, number> = {};
    for (let n = days - 1; n >= 0; n--) bars[daysAgo(n)] = 0;
    for (const s of seeded) if (s.days < days) bars[daysAgo(s.days)] = (bars[daysAgo(s.days)] ?? 0) + s.plays;
    return bars;
  }

  /** The CSV's data rows as objects keyed by its header. */
  function csvRecords(text: string): Record<string, string>[] {
    const [header, ...lines] = text.split("\r\n").filter((line) => line !== "");
    const columns = (header ?? "").split(",");
    return lines.map((line) => Object.fromEntries(line.split(",").map((value, n) => [columns[n], value])));
  }

  it("charts the plays of the last 7 days per day, ranks the clips and shows both screens' uptime", async () => {
    await signIn("ada@demo.test");
    await page.getByRole("link", { name: "Reports" }).click();
    await page.getByRole("heading", { name: "Reports" }).waitFor(slow);
    await expect(page.getByLabel("Time zone").inputValue()).resolves.toBe("UTC");
    const total = page.getByTestId("plays-total");
    await expect.poll(() => total.textContent(), slow).toBe("7 plays · 2 min 10 s played · UTC");
    await expect.poll(barPlays, slow).toEqual(expectedBars(7));

    const assets = page.getByRole("list", { name: "Top assets" }).getByRole("listitem");
    await expect.poll(() => assets.allTextContents(), slow).toEqual(["Spring promo4 plays", "Lunch menu3 plays"]);
    await page.getByRole("button", { name: "By time played" }).click();
    await expect.poll(() => assets.allTextContents(), slow).toEqual(["Lunch menu1 min 30 s", "Spring promo40 s"]);

    // Window never connected: offline for all of its time, so it is listed first.
    const screens = page.getByRole("list", { name: "Screens by uptime" }).getByRole("listitem");
    await expect.poll(() => screens.count(), slow).toBe(2);
    await expect(screens.nth(0).textContent()).resolves.toContain("Window0 % playing");
    await expect(screens.nth(0).textContent()).resolves.toContain("100 % offline");
    const lobbyText = (await screens.nth(1).textContent()) ?? "";
    expect(lobbyText).toMatch(/^Lobby\d+ % playing/);
    expect(Number(/^Lobby(\d+) % playing/.exec(lobbyText)?.[1])).toBeGreaterThan(0);
    await page.screenshot({ path: join(artifactsDir, "reports-7-days.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it("widens to 30 days, and downloads a plays CSV whose rows are the rollups' and an uptime CSV", async () => {
    await page.getByLabel("Range").selectOption({ label: "Last 30 days" });
    await expect
      .poll(() => page.getByTestId("plays-total").textContent(), slow)
      .toBe("11 plays · 2 min 50 s played · UTC");
    await expect.poll(barPlays, slow).toEqual(expectedBars(30));

    const request = page.waitForRequest(/\/v1\/reports\/plays\.csv/);
    const [download] = await Promise.all([
      page.waitForEvent("download", slow),
      page.getByRole("button", { name: "Download plays CSV" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`plays-${daysAgo(29)}-to-${daysAgo(0)}.csv`);
    const text = await readFile((await download.path()) ?? "", "utf8");
    expect(text.split("\r\n")[0]).toBe(
      "id,name,date,bucket_start,bucket_end,time_zone,plays,completed_plays,seconds_played",
    );
    const rows = csvRecords(text);
    const name = { [videoIds.promo]: "Spring promo", [videoIds.menu]: "Lunch menu" };
    const summary = (list: Array<{ id: string; name: string; date: string; plays: number; seconds: number }>) =>
      list.map((r) => `${r.name} ${r.date} ${r.plays} ${r.seconds}`).sort();
    // What Lobby sent, one row per clip and day.
    expect(
      summary(
        rows.map((r) => ({
          id: r.id ?? "",
          name: r.name ?? "",
          date: r.date ?? "",
          plays: Number(r.plays),
          seconds: Number(r.seconds_played),
        })),
      ),
    ).toEqual(
      summary(
        seeded.map((s) => ({
          id: videoIds[s.clip],
          name: name[videoIds[s.clip]] ?? "",
          date: daysAgo(s.days),
          plays: s.plays,
          seconds: s.plays * s.seconds,
        })),
      ),
    );
    // And exactly the rows ReportService reads from the rollups for the window the page asked for.
    const params = new URL((await request).url()).searchParams;
    expect(params.get("start")).toBe(`${daysAgo(29)}T00:00:00.000Z`);
    expect(params.get("time_zone")).toBe("UTC");
    const report = await app.client(ReportService, tenant.tokens.viewer).getPlayReport({
      query: {
        window: {
          start: timestampFromDate(new Date(params.get("start") ?? "")),
          end: timestampFromDate(new Date(params.get("end") ?? "")),
          timeZone: "UTC",
        },
        granularity: Granularity.DAY,
        dimension: Dimension.ASSET,
      },
    });
    expect(report.nextPageToken).toBe("");
    expect(
      rows.map((r) => [
        r.id,
        r.date,
        r.bucket_start,
        Number(r.plays),
        Number(r.completed_plays),
        Number(r.seconds_played),
      ]),
    ).toEqual(
      report.rows.map((r) => [
        r.id,
        r.date,
        r.bucketStart && new Date(Number(r.bucketStart.seconds) * 1000).toISOString(),
        Number(r.plays),
        Number(r.completedPlays),
        r.secondsPlayed,
      ]),
    );

    const [uptimeDownload] = await Promise.all([
      page.waitForEvent("download", slow),
      page.getByRole("button", { name: "Download uptime CSV" }).click(),
    ]);
    const uptime = csvRecords(await readFile((await uptimeDownload.path()) ?? "", "utf8"));
    expect([...new Set(uptime.map((r) => r.screen_name))].sort()).toEqual(["Lobby", "Window"]);
    expect(uptime.find((r) => r.screen_name === "Window" && r.date === daysAgo(0))?.playing_seconds).toBe("0");
    expect(pageErrors).toEqual([]);
  });

  it("shows the server's refusal of a range longer than the server allows, on the charts and the CSV", async () => {
    await page.getByLabel("Range").selectOption({ label: "Last 90 days" });
    const alerts = page.getByRole("alert");
    await expect
      .poll(() => alerts.first().textContent(), slow)
      .toContain("one report covers at most 60 days (reports.maxRangeDays)");
    await page.getByRole("button", { name: "Download plays CSV" }).click();
    await expect.poll(() => alerts.count(), slow).toBe(3);
    await expect(alerts.nth(1).textContent()).resolves.toContain("the range is 90 days");
    await page.screenshot({ path: join(artifactsDir, "reports-refused.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it("shows a viewer the reports, per hour too, and an empty state for a range without plays", async () => {
    await signIn("vic@demo.test");
    await page.getByRole("link", { name: "Reports" }).click();
    await expect
      .poll(() => page.getByTestId("plays-total").textContent(), slow)
      .toBe("7 plays · 2 min 10 s played · UTC");
    // Hourly over the week: every play started in the 12:00 UTC hour of its day.
    await page.getByLabel("Buckets").selectOption({ label: "Per hour" });
    await expect
      .poll(async () => Object.entries(await barPlays()).filter(([, plays]) => plays > 0), slow)
      .toEqual(
        Object.entries(expectedBars(7))
          .filter(([, plays]) => plays > 0)
          .map(([date, plays]) => [`${date} 12:00`, plays]),
      );
    await expect(page.locator(".report-chart .bar").count()).resolves.toBe(168);
    await page.screenshot({ path: join(artifactsDir, "reports-7-days-hourly.png"), fullPage: true });
    await page.getByLabel("Range").selectOption({ label: "Today" });
    await page.getByText("No plays in this range.").waitFor(slow);
    expect(pageErrors).toEqual([]);
  });
});
