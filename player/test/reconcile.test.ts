import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AssetServer, bytesOf, sha256Of, startAssetServer } from "./lib/asset-server.ts";
import { startDevice, type TestDevice } from "./lib/device.ts";
import { desiredState } from "./lib/states.ts";

let server: AssetServer;
const devices: TestDevice[] = [];

beforeEach(async () => {
  server = await startAssetServer();
});
afterEach(async () => {
  for (const device of devices.splice(0)) await device.destroy();
  await server.close();
});

async function device(options: Partial<Parameters<typeof startDevice>[0]> = {}): Promise<TestDevice> {
  const d = await startDevice({ baseUrl: server.baseUrl, ...options });
  devices.push(d);
  return d;
}

function clip(size: number, seed: number) {
  const body = bytesOf(size, seed);
  const sha256 = server.add(body);
  return { sha256, sizeBytes: size, url: `/assets/${sha256}`, body };
}

describe("reconciler on real files", () => {
  it("downloads, persists, plays and acks a new state, in that order", async () => {
    const d = await device();
    const a = clip(200_000, 1);
    const b = clip(150_000, 2);
    await d.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a, b] } }));
    expect(d.reporter.reports).toEqual([{ type: "applied", version: 1n }]);
    expect(d.playback.plans.at(-1)?.items.map((i) => i.assetSha256)).toEqual([a.sha256, b.sha256]);
    expect((await readdir(d.layout.mediaDir)).sort()).toEqual([a.sha256, b.sha256].sort());
    expect((await readFile(d.layout.lastGoodFile)).length).toBeGreaterThan(0);
  });

  it("hands the OS update module each applied state (after the ack) and the last good state at boot", async () => {
    const seen: bigint[] = [];
    const listener = { applied: (state: { version: bigint }) => seen.push(state.version) };
    const d = await device({ appliedListener: listener });
    const a = clip(10_000, 31);
    const missing = { sha256: sha256Of(new Uint8Array([9])), sizeBytes: 1, url: "/assets/none" };
    await d.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a] } }));
    // A state that cannot be applied is not handed on: its os_update waits with it.
    await d.reconciler.setTarget(desiredState({ version: 2, playlists: { main: [missing] } }));
    expect(seen).toEqual([1n]);
    await d.stop();
    const again = await device({ dataDir: d.dataDir, appliedListener: listener });
    expect(seen).toEqual([1n, 1n]);
    expect(again.reconciler.appliedVersion).toBe(1n);
  });

  it("plays the last good state at boot with the control plane down", async () => {
    const first = await device();
    const a = clip(100_000, 3);
    await first.reconciler.setTarget(desiredState({ version: 4, playlists: { main: [a] } }));
    await first.stop();
    await server.close();
    const requestsBefore = server.requests.length;

    const rebooted = await device({ dataDir: first.dataDir });
    expect(rebooted.playback.plans).toHaveLength(1);
    expect(rebooted.playback.plans[0]?.items[0]?.assetSha256).toBe(a.sha256);
    expect(rebooted.reconciler.appliedVersion).toBe(4n);
    expect(server.requests.length).toBe(requestsBefore);
    server = await startAssetServer();
  });

  it("applies a settings-only change without downloading, and boots with the last good settings", async () => {
    const first = await device();
    const a = clip(100_000, 11);
    await first.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a] } }));
    expect(first.playback.output).toEqual({ volumePercent: 80, rotation: undefined });
    const requests = server.requests.length;
    await first.reconciler.setTarget(
      desiredState({
        version: 2,
        playlists: { main: [a] },
        settings: { volumePercent: 30, orientation: Orientation.PORTRAIT },
      }),
    );
    expect(first.reporter.reports.at(-1)).toEqual({ type: "applied", version: 2n });
    expect(first.playback.output).toEqual({ volumePercent: 30, rotation: 90 });
    expect(server.requests.length).toBe(requests);
    await first.stop();

    const rebooted = await device({ dataDir: first.dataDir });
    expect(rebooted.playback.output).toEqual({ volumePercent: 30, rotation: 90 });
    expect(rebooted.playback.plans[0]?.items[0]?.assetSha256).toBe(a.sha256);
  });

  it("reports ASSET_NOT_FOUND for a 404 and keeps playing the last good state", async () => {
    const d = await device();
    const a = clip(50_000, 4);
    await d.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a] } }));
    const gone = { sha256: "f".repeat(64), sizeBytes: 10, url: `/assets/${"f".repeat(64)}` };
    await d.reconciler.setTarget(desiredState({ version: 2, playlists: { main: [a, gone] } }));
    const report = await d.reporter.waitFor((r) => r.type === "failed");
    expect(report).toMatchObject({ version: 2n, failure: { reason: "ASSET_NOT_FOUND", assetSha256: gone.sha256 } });
    expect(d.reconciler.appliedVersion).toBe(1n);
    expect(d.playback.plans).toHaveLength(1);
    expect(d.reconciler.status().lastError?.reason).toBe("ASSET_NOT_FOUND");
  });

  it("refuses a download with the wrong sha256 and refetches it on retry", async () => {
    const d = await device();
    const good = bytesOf(80_000, 5);
    const sha = sha256Of(good);
    server.files.set(sha, { body: bytesOf(80_000, 6) });
    void d.reconciler.setTarget(
      desiredState({ version: 1, playlists: { main: [{ sha256: sha, sizeBytes: 80_000, url: `/assets/${sha}` }] } }),
    );
    const report = await d.reporter.waitFor((r) => r.type === "failed");
    expect(report).toMatchObject({ failure: { reason: "CHECKSUM_MISMATCH", assetSha256: sha } });
    expect(await readdir(d.layout.mediaDir)).toEqual([]);
    server.files.set(sha, { body: good });
    await d.reporter.waitFor((r) => r.type === "applied");
    expect(await readdir(d.layout.mediaDir)).toEqual([sha]);
  });

  it("detects a flipped bit in a cached asset at start-up and fetches it again", async () => {
    const first = await device();
    const a = clip(120_000, 7);
    await first.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a] } }));
    await first.stop();
    const path = join(first.layout.mediaDir, a.sha256);
    const bytes = await readFile(path);
    bytes[60_000] = (bytes[60_000] ?? 0) ^ 0x10;
    await writeFile(path, bytes);
    const getsBefore = server.requests.length;

    const rebooted = await device({ dataDir: first.dataDir });
    await rebooted.reconciler.runNow();
    expect(server.requests.length).toBe(getsBefore + 1);
    expect(sha256Of(await readFile(path))).toBe(a.sha256);
    expect(rebooted.reconciler.appliedVersion).toBe(1n);
  });

  it("resumes an interrupted download from the byte it had", async () => {
    const d = await device();
    const a = clip(500_000, 8);
    const file = server.files.get(a.sha256);
    if (file) file.dropAfterBytes = 200_000;
    void d.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a] } }));
    const failure = await d.reporter.waitFor((r) => r.type === "failed");
    expect(failure).toMatchObject({ failure: { reason: "DOWNLOAD_FAILED" } });
    const had = d.cache.snapshot().parts.get(a.sha256) ?? 0;
    expect(had).toBeGreaterThan(0);
    expect(had).toBeLessThanOrEqual(200_000);
    await d.reporter.waitFor((r) => r.type === "applied");
    // The retry asks for exactly the bytes after those the part file held.
    expect(server.requests.map((r) => r.range)).toEqual([undefined, `bytes=${had}-`]);
    expect(d.resumes).toEqual([0, had]);
  });
});

describe("quota", () => {
  it("evicts the least recently played unreferenced asset first", async () => {
    const d = await device({ maxMediaBytes: 350_000 });
    const [a, b, c, e] = [clip(100_000, 10), clip(100_000, 11), clip(100_000, 12), clip(100_000, 9)];
    await d.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a, b, c] } }));
    d.playback.emitPlayRecord({
      assetSha256: b.sha256,
      videoId: "v",
      playlistId: "main",
      ruleId: "",
      startedAt: new Date(),
      endedAt: new Date(),
      completed: true,
    });
    await d.reconciler.setTarget(desiredState({ version: 2, playlists: { main: [a] } }));
    await d.reconciler.setTarget(desiredState({ version: 3, playlists: { main: [a, e] } }));
    expect(d.reporter.reports.at(-1)).toEqual({ type: "applied", version: 3n });
    expect((await readdir(d.layout.mediaDir)).sort()).toEqual([a.sha256, b.sha256, e.sha256].sort());
  });

  it("never evicts what the playing state references", async () => {
    const d = await device({ maxMediaBytes: 250_000 });
    const [a, b, c] = [clip(100_000, 20), clip(100_000, 21), clip(100_000, 22)];
    await d.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a, b] } }));
    // v2 drops `b` for `c`; `b` stays referenced by the playing v1 until v2 is live, so v2 cannot fit.
    await d.reconciler.setTarget(desiredState({ version: 2, playlists: { main: [a, c] } }));
    const report = await d.reporter.waitFor((r) => r.type === "failed");
    expect(report).toMatchObject({
      version: 2n,
      failure: { reason: "QUOTA_EXCEEDED", neededBytes: 200_000, availableBytes: 250_000 },
    });
    expect((await readdir(d.layout.mediaDir)).sort()).toEqual([a.sha256, b.sha256].sort());
    expect(d.reconciler.appliedVersion).toBe(1n);
  });

  it("evicts an unreferenced asset to make room when the disk fills", async () => {
    const d = await device({ minFreeBytes: 100_000 });
    const [a, b, c] = [clip(100_000, 13), clip(100_000, 14), clip(100_000, 15)];
    await d.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a, b] } }));
    await d.reconciler.setTarget(desiredState({ version: 2, playlists: { main: [a] } }));
    d.disk.freeBytes = 150_000;
    await d.reconciler.setTarget(desiredState({ version: 3, playlists: { main: [a, c] } }));
    const d2 = d.reporter.reports.at(-1);
    expect(d2).toEqual({ type: "applied", version: 3n });
    expect((await readdir(d.layout.mediaDir)).sort()).toEqual([a.sha256, c.sha256].sort());
  });

  it("reports QUOTA_EXCEEDED with numbers when the referenced set cannot fit, and keeps playing", async () => {
    const d = await device({ minFreeBytes: 100_000 });
    const a = clip(50_000, 16);
    await d.reconciler.setTarget(desiredState({ version: 1, playlists: { main: [a] } }));
    d.disk.freeBytes = 120_000;
    const big = clip(300_000, 17);
    await d.reconciler.setTarget(desiredState({ version: 2, playlists: { main: [a, big] } }));
    const report = await d.reporter.waitFor((r) => r.type === "failed");
    expect(report).toMatchObject({
      failure: { reason: "QUOTA_EXCEEDED", neededBytes: 350_000, availableBytes: 70_000 },
    });
    expect(d.playback.plans.at(-1)?.items.map((i) => i.assetSha256)).toEqual([a.sha256]);
  });
});
