import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AssetServer, bytesOf, sha256Of, startAssetServer } from "../../test/lib/asset-server.ts";
import { workerHashThresholdBytes } from "./download.ts";
import {
  AssetCache,
  AssetFailure,
  createHttpGetter,
  downloadAsset,
  parseShaInstructions,
  statfsProbe,
} from "./index.ts";

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

  for (const hashing of ["inline", "worker"] as const) {
    it(`hashes a large file ${hashing === "inline" ? "on the receiving thread" : "on a worker thread"}, across a resume`, async () => {
      // Small batches and syncs, so the drop lands after several writes and background fdatasyncs.
      const writer = { batchBytes: 256 * 1024, syncEveryBytes: 1024 * 1024 };
      const body = bytesOf(workerHashThresholdBytes + 1_000_000, 9);
      const sha = server.add(body);
      const file = server.files.get(sha);
      if (file) file.dropAfterBytes = 3_000_000;
      const req = { sha256: sha, sizeBytes: body.length, url: server.urlOf(sha) };
      const ctx = { http, path: join(dir, sha), signal, hashing, writer };
      await expect(downloadAsset(req, ctx)).rejects.toMatchObject({ reason: "DOWNLOAD_FAILED" });
      // What the stream delivered before the drop was written (chunks still buffered in the
      // stream when the error arrives are dropped by Node, so under load it can be a little less).
      const had = (await stat(join(dir, `${sha}.part`))).size;
      expect(had).toBeGreaterThan(2_000_000);
      expect(had).toBeLessThanOrEqual(3_000_000);
      const outcome = await downloadAsset(req, ctx);
      expect(outcome).toEqual({ receivedBytes: body.length - had, resumedFrom: had });
      expect(server.requests.at(-1)?.range).toBe(`bytes=${had}-`);
      expect(sha256Of(await readFile(join(dir, sha)))).toBe(sha);
    });
  }

  it("keeps what arrived when aborted, and resumes from there", async () => {
    const body = bytesOf(2_000_000, 7);
    const sha = server.add(body);
    server.chunkDelayMs = 5;
    const abort = new AbortController();
    const req = { sha256: sha, sizeBytes: body.length, url: server.urlOf(sha) };
    let resumed: number | undefined;
    const first = downloadAsset(req, { http, path: join(dir, sha), signal: abort.signal });
    await expect.poll(() => server.requests.length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    abort.abort();
    await expect(first).rejects.toMatchObject({ name: "AbortError" });
    const kept = (await stat(join(dir, `${sha}.part`))).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(body.length);
    server.chunkDelayMs = 0;
    await downloadAsset(req, { http, path: join(dir, sha), signal, onResume: (offset) => (resumed = offset) });
    expect(resumed).toBe(kept);
    expect(new Uint8Array(await readFile(join(dir, sha)))).toEqual(body);
  });

  it("refuses a server that sends more than the manifest's size and deletes the part", async () => {
    const body = bytesOf(600_000, 8);
    const sha = server.add(body);
    const failure = await downloadAsset(
      { sha256: sha, sizeBytes: 100_000, url: server.urlOf(sha) },
      { http, path: join(dir, sha), signal, writer: { batchBytes: 16 * 1024 } },
    ).catch((e: unknown) => e);
    expect(failure).toMatchObject({ reason: "CHECKSUM_MISMATCH" });
    expect((failure as Error).message).toContain("more than the manifest's 100000 bytes");
    expect(await readdir(dir)).toEqual([]);
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

  describe("through a redirect (pre-signed store URLs, a CDN)", () => {
    let store: AssetServer;
    beforeEach(async () => {
      store = await startAssetServer();
    });
    afterEach(async () => {
      await store.close();
    });
    const token = { authorization: "Bearer avd_device-token" };

    it("follows /assets to another origin without the device token, and resumes there with Range after a cut", async () => {
      const body = bytesOf(400_000, 11);
      const sha = store.add(body);
      server.redirect(`/assets/${sha}`, `${store.urlOf(sha).href}?X-Amz-Signature=abc`);
      (store.files.get(sha) as { dropAfterBytes?: number }).dropAfterBytes = 150_000;
      const cache = cacheAt();
      const asset = { sha256: sha, sizeBytes: body.length, url: server.urlOf(sha) };
      const cut = await cache.download(asset, http, { signal, headers: token }).catch((error: unknown) => error);
      expect(cut).toBeInstanceOf(AssetFailure);
      expect((cut as AssetFailure).reason).toBe("DOWNLOAD_FAILED");
      const offsets: number[] = [];
      await cache.download(asset, http, { signal, headers: token, onResume: (offset) => offsets.push(offset) });
      expect(offsets).toEqual([150_000]);
      expect(new Uint8Array(await readFile(join(dir, sha)))).toEqual(body);
      // Both attempts asked /assets (with the token) first; the store saw the Range and never the token.
      expect(server.requests.map((r) => r.authorization)).toEqual([token.authorization, token.authorization]);
      expect(store.requests.map((r) => [r.path, r.range, r.authorization])).toEqual([
        [`/assets/${sha}?X-Amz-Signature=abc`, undefined, undefined],
        [`/assets/${sha}?X-Amz-Signature=abc`, "bytes=150000-", undefined],
      ]);
    });

    it("keeps the token on a redirect within the control plane's own origin", async () => {
      const body = bytesOf(10_000, 12);
      const sha = server.add(body);
      server.redirect(`/old/${sha}`, `/assets/${sha}`, 301);
      const url = new URL(`/old/${sha}`, server.baseUrl);
      await cacheAt().download({ sha256: sha, sizeBytes: body.length, url }, http, { signal, headers: token });
      expect(server.requests.map((r) => [r.path, r.authorization])).toEqual([
        [`/old/${sha}`, token.authorization],
        [`/assets/${sha}`, token.authorization],
      ]);
    });

    it("goes back to /assets once when the redirect's target refuses (an expired URL), and succeeds there", async () => {
      const body = bytesOf(50_000, 13);
      const sha = store.add(body);
      server.redirect(`/assets/${sha}`, store.urlOf(sha).href);
      (store.files.get(sha) as { failNextWith?: number }).failNextWith = 403;
      await cacheAt().download({ sha256: sha, sizeBytes: body.length, url: server.urlOf(sha) }, http, {
        signal,
        headers: token,
      });
      expect(new Uint8Array(await readFile(join(dir, sha)))).toEqual(body);
      expect(server.requests).toHaveLength(2);
      expect(store.requests).toHaveLength(2);
    });

    it("fails with DOWNLOAD_FAILED on a redirect loop or a Location that is not http(s), without a signed query in the message", async () => {
      const sha = sha256Of(bytesOf(10, 14));
      server.redirect(`/assets/${sha}`, `/assets/${sha}`, 302);
      const loop = await downloadAsset(
        { sha256: sha, sizeBytes: 10, url: server.urlOf(sha) },
        { http, path: join(dir, sha), signal },
      ).catch((error: unknown) => error);
      expect((loop as AssetFailure).reason).toBe("DOWNLOAD_FAILED");
      expect((loop as Error).message).toMatch(/more than 5 redirects/);
      const other = sha256Of(bytesOf(10, 15));
      server.redirect(`/assets/${other}`, "file:///etc/passwd");
      const bad = await downloadAsset(
        { sha256: other, sizeBytes: 10, url: server.urlOf(other) },
        { http, path: join(dir, other), signal },
      ).catch((error: unknown) => error);
      expect((bad as Error).message).toMatch(/without a usable http\(s\) Location/);
      const gone = sha256Of(bytesOf(10, 16));
      server.redirect(`/assets/${gone}`, `${store.urlOf(gone).href}?X-Amz-Signature=secret`);
      const missing = await downloadAsset(
        { sha256: gone, sizeBytes: 10, url: server.urlOf(gone) },
        { http, path: join(dir, gone), signal },
      ).catch((error: unknown) => error);
      expect((missing as AssetFailure).reason).toBe("ASSET_NOT_FOUND");
      expect((missing as Error).message).toContain(`redirected to ${store.urlOf(gone).href})`);
      expect((missing as Error).message).not.toContain("secret");
    });
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

describe("parseShaInstructions", () => {
  it("finds SHA-256 instructions in x86 flags and arm64 features, and not elsewhere", () => {
    expect(parseShaInstructions("processor\t: 0\nflags\t\t: fpu sse2 sha_ni avx2\n")).toBe(true);
    expect(parseShaInstructions("processor\t: 0\nFeatures\t: fp asimd aes pmull sha1 sha2 crc32\n")).toBe(true);
    // A Raspberry Pi 4 as shipped: no crypto extensions.
    expect(parseShaInstructions("processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\n")).toBe(false);
    expect(parseShaInstructions("model name\t: sha2 in a name is not a feature\nflags\t: fpu sse2\n")).toBe(false);
  });
});
