/**
 * The console's Reports page shows the demo's plays (issue 15): the demo tenant as `make demo` makes it
 * (populateDemoContent: the generated clips, playlists, dayparts), simulated screens that play the demo
 * playlists' clips and send proof of play over their streams as `make demo`'s do (clips shortened to 400 ms and
 * batches sent every second, so the test has plays within seconds), then Chromium on the real control plane:
 * the page's total, its top assets and the plays CSV it downloads all agree with the play events the server
 * stored.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { bearerToken, runAdminCli } from "@avtech/control-plane";
import {
  ensureConsoleBuilt,
  launchBrowser,
  type RealControlPlane,
  startRealControlPlane,
  type TestBrowser,
} from "@avtech/control-plane/testing";
import { type FleetSimulator, startFleetSimulator } from "@avtech/fleet-sim";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { populateDemoContent } from "../lib/demo-data.ts";

const repoDir = join(import.meta.dirname, "..", "..");
const password = "correct horse battery staple";
const slow = { timeout: 20_000 };

describe("the Reports page on the demo's plays", () => {
  let cp: RealControlPlane;
  let simulator: FleetSimulator | undefined;
  let browser: TestBrowser;
  /** Play events the server stored, per clip name. */
  let stored: Map<string, number>;

  beforeAll(async () => {
    await ensureConsoleBuilt();
    cp = await startRealControlPlane();
    const transport = createGrpcTransport({
      baseUrl: cp.addresses.http2Url,
      interceptors: [bearerToken(cp.adminToken)],
    });
    const { playlistClips } = await populateDemoContent(transport, join(repoDir, "test-artifacts/demo-clips"));
    const { enrollmentKey } = await createClient(FleetService, transport).createEnrollmentKey({ name: "reports" });
    simulator = await startFleetSimulator({
      baseUrl: cp.addresses.http2Url,
      count: 3,
      enrollmentKey,
      hardwareIdPrefix: "demo-sim",
      plays: { clips: playlistClips.map((clip) => ({ ...clip, durationMs: 400 })), batchMs: 1000 },
    });
    await simulator.whenConnected(30_000);
    await createClient(PublishService, transport).publish({});
    simulator.startPlays();
    const storedPlays = async () =>
      Number((await cp.query<{ n: string }>("SELECT count(*) AS n FROM play_events"))[0]?.n ?? 0);
    for (let tries = 0; (await storedPlays()) < 30; tries++) {
      if (tries > 300) throw new Error("the simulated demo screens sent fewer than 30 plays in 60 s");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Stop the screens, then wait until the last batches are written: the count the page must show holds still.
    await simulator.stop();
    simulator = undefined;
    for (let last = -1, now = await storedPlays(); now !== last; last = now, now = await storedPlays()) {
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    const rows = await cp.query<{ name: string; n: string }>(
      "SELECT v.name, count(*) AS n FROM play_events e JOIN videos v ON v.id = e.video_id GROUP BY v.name",
    );
    stored = new Map(rows.map((row) => [row.name, Number(row.n)]));
    const code = await runAdminCli(
      [
        "create-user",
        "--tenant",
        cp.tenant.slug,
        "--email",
        "ada@demo.test",
        "--role",
        "admin",
        "--password",
        password,
      ],
      {
        env: { DATABASE_URL: cp.databaseUrl, AVTECH_BLOB_DIR: cp.blobDir, LOG_LEVEL: "silent" },
        stdout: () => undefined,
        stderr: (text) => process.stderr.write(text),
      },
    );
    expect(code).toBe(0);
    browser = await launchBrowser();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await simulator?.stop();
    await cp?.close();
  });

  it("totals, ranks and downloads exactly the plays the demo's screens sent", async () => {
    const total = [...stored.values()].reduce((sum, n) => sum + n, 0);
    expect(total).toBeGreaterThanOrEqual(30);
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(cp.addresses.http1Url);
    await page.getByLabel("Organisation").fill(cp.tenant.slug);
    await page.getByLabel("Email").fill("ada@demo.test");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Reports" }).click(slow);
    await expect
      .poll(() => page.getByTestId("plays-total").textContent(), slow)
      .toMatch(new RegExp(`^${total} plays · `));

    // The top assets are the demo clips that were played, most played first.
    const ranked = [...stored.entries()].sort((a, b) => b[1] - a[1]);
    const assets = page.getByRole("list", { name: "Top assets" }).getByRole("listitem");
    const shown = await assets.allTextContents();
    expect(shown.length).toBe(Math.min(10, stored.size));
    expect(shown[0]).toMatch(new RegExp(`${ranked[0]?.[1]} plays?$`));
    for (const text of shown)
      expect(ranked.some(([name, n]) => text === `${name}${n} play${n === 1 ? "" : "s"}`)).toBe(true);

    const [download] = await Promise.all([
      page.waitForEvent("download", slow),
      page.getByRole("button", { name: "Download plays CSV" }).click(),
    ]);
    const [header, ...lines] = (await readFile((await download.path()) ?? "", "utf8"))
      .split("\r\n")
      .filter((line) => line !== "");
    const columns = (header ?? "").split(",");
    const perClip = new Map<string, number>();
    for (const line of lines) {
      const cells = line.split(",");
      const name = cells[columns.indexOf("name")] ?? "";
      perClip.set(name, (perClip.get(name) ?? 0) + Number(cells[columns.indexOf("plays")]));
    }
    expect(perClip).toEqual(stored);
    expect(pageErrors).toEqual([]);
  });
});
