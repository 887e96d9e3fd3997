import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AssetServer, bytesOf, sha256Of, startAssetServer } from "../../test/lib/asset-server.ts";
import { workerHashThresholdBytes } from "./download.ts";
import { AssetCache, AssetFailure, createHttpGetter, statfsProbe } from "./index.ts";

let dir: string;
let server: AssetServer;
const http = createHttpGetter();
const signal = new AbortController().signal;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-assets-"));
  server = await startAssetServer();
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function cacheAt(): AssetCache {
  return new AssetCache(dir, statfsProbe);
}

describe("AssetCache.download", () => {
  it("downloads, verifies and names the file by its sha256", async () => {
    const body = bytesOf(300_000, 1);
    const sha = server.add(body);
    const cache = cacheAt();
    await cache.download({ sha256: sha, sizeBytes: body.length, url: server.urlOf(sha) }, http, { signal });
    expect(new Uint8Array(await readFile(join(dir, sha)))).toEqual(body);
    expect(await readdir(dir)).toEqual([sha]);
    expect(cache.snapshot().verified.get(sha)).toBe(body.length);
  });

  it("resumes with a Range header from the byte it had when the link dropped", async () => {
    const body = bytesOf(1_000_000, 2);
    const sha = server.add(body);
    const file = server.files.get(sha);
    if (file) file.dropAfterBytes = 400_000;
    const cache = cacheAt();
    const asset = { sha256: sha, sizeBytes: body.length, url: server.urlOf(sha) };
    const failure = await cache.download(asset, http, { signal }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(AssetFailure);
    expect((failure as AssetFailure).reason).toBe("DOWNLOAD_FAILED");
    expect(cache.snapshot().parts.get(sha)).toBe(400_000);
    expect(await readdir(dir)).toEqual([`${sha}.part`]);

    const outcome = await cache.download(asset, http, { signal });
    expect(server.requests.at(-1)?.range).toBe("bytes=400000-");
    expect(outcome).toEqual({ receivedBytes: 600_000, resumedFrom: 400_000 });
    expect(new Uint8Array(await readFile(join(dir, sha)))).toEqual(body);
  });

  it("hashes large files on a worker thread, across a resume", async () => {
    const body = bytesOf(workerHashThresholdBytes + 1_000_000, 9);
    const sha = server.add(body);
    const file = server.files.get(sha);
    if (file) file.dropAfterBytes = 3_000_000;
    const cache = cacheAt();
    const asset = { sha256: sha, sizeBytes: body.length, url: server.urlOf(sha) };
    await expect(cache.download(asset, http, { signal })).rejects.toMatchObject({ reason: "DOWNLOAD_FAILED" });
    const had = cache.snapshot().parts.get(sha) ?? 0;
    expect(had).toBeGreaterThan(0);
    const outcome = await cache.download(asset, http, { signal });
    expect(outcome.resumedFrom).toBe(had);
    expect(server.requests.at(-1)?.range).toBe(`bytes=${had}-`);
    expect(sha256Of(await readFile(join(dir, sha)))).toBe(sha);
  });

  it("refuses a file whose sha256 differs and leaves nothing behind", async () => {
    const body = bytesOf(50_000, 3);
    const wrongSha = "0".repeat(64);
    server.files.set(wrongSha, { body });
    const cache = cacheAt();
    const failure = await cache
      .download({ sha256: wrongSha, sizeBytes: body.length, url: server.urlOf(wrongSha) }, http, { signal })
      .catch((e: unknown) => e);
    expect((failure as AssetFailure).reason).toBe("CHECKSUM_MISMATCH");
    expect(await readdir(dir)).toEqual([]);
  });

  it("refetches from scratch when a resumed part has a torn tail", async () => {
    const body = bytesOf(100_000, 4);
    const sha = server.add(body);
    const torn = new Uint8Array(body.subarray(0, 30_000));
    torn[29_999] = (torn[29_999] ?? 0) ^ 0xff;
    await writeFile(join(dir, `${sha}.part`), torn);
    const cache = cacheAt();
    await cache.open();
    await cache.download({ sha256: sha, sizeBytes: body.length, url: server.urlOf(sha) }, http, { signal });
    expect(server.requests.map((r) => r.range)).toEqual(["bytes=30000-", undefined]);
    expect(new Uint8Array(await readFile(join(dir, sha)))).toEqual(body);
  });

  it("reports ASSET_NOT_FOUND on 404", async () => {
    const sha = "a".repeat(64);
    const failure = await cacheAt()
      .download({ sha256: sha, sizeBytes: 10, url: server.urlOf(sha) }, http, { signal })
      .catch((e: unknown) => e);
    expect(failure).toMatchObject({ reason: "ASSET_NOT_FOUND", assetSha256: sha });
  });
});

describe("AssetCache.open and verify", () => {
  it("deletes unknown files, keeps parts, and deletes a cached file with a flipped bit", async () => {
    const good = bytesOf(10_000, 5);
    const goodSha = server.add(good);
    const flipped = new Uint8Array(bytesOf(10_000, 6));
    const flippedSha = server.add(flipped);
    flipped[5000] = (flipped[5000] ?? 0) ^ 0x01;
    await writeFile(join(dir, goodSha), good);
    await writeFile(join(dir, flippedSha), flipped);
    await writeFile(join(dir, `${"b".repeat(64)}.part`), "x");
    await writeFile(join(dir, "stray.mp4"), "x");
    const cache = cacheAt();
    expect(await cache.open()).toEqual(["stray.mp4"]);
    expect(await cache.verify(goodSha, signal)).toEqual({ type: "Valid" });
    expect(await cache.verify(flippedSha, signal)).toMatchObject({ type: "Corrupt" });
    expect((await readdir(dir)).sort()).toEqual([goodSha, `${"b".repeat(64)}.part`].sort());
    expect(cache.has(flippedSha)).toBe(false);
  });
});
