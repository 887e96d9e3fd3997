/**
 * GET /assets/<sha256> with pre-signed URLs (`blobStore.presign`): the route as the fleet plane
 * mounts it, the S3 store and its URL signer on s3rver. The player's side (following the
 * redirect with Range and hash checks) is tested end to end in scripts/test/presigned-assets.test.ts.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BlobStore, createS3BlobStore, createS3UrlSigner } from "../../src/core/content/index.ts";
import { blobReaderFrom } from "../../src/fleet/asset-http/index.ts";
import { blobOf, tempWith } from "../content/blob-store-contract.ts";
import { enrollScreen } from "../lib/fleet-device.ts";
import { type FleetTestServer, startFleetTestServer } from "../lib/fleet-server.ts";
import { type S3Emulator, startS3Emulator } from "../lib/s3-emulator.ts";

const expiresSeconds = 600;
/** 2026-12-07 10:00:00 UTC, a multiple of 600 s: the start of a signing bucket. */
const bucketStart = Date.UTC(2026, 11, 7, 10, 0, 0);

describe("GET /assets/<sha256> with pre-signed URLs", () => {
  let s3: S3Emulator;
  let tempDir: string;
  let store: BlobStore;
  let server: FleetTestServer;
  let token: string;
  let otherToken: string;
  let now = bucketStart;
  const mine = blobOf(150_000, 21);
  const theirs = blobOf(10_000, 22);
  const connection = () => ({
    endpoint: s3.endpoint,
    region: "us-east-1",
    bucket: s3.bucket,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
  });

  beforeAll(async () => {
    s3 = await startS3Emulator();
    tempDir = await mkdtemp(join(tmpdir(), "avtech-presign-"));
    store = createS3BlobStore({ ...connection(), tempDir });
    await store.putFile(mine.sha256, await tempWith(store, mine.bytes));
    await store.putFile(theirs.sha256, await tempWith(store, theirs.bytes));
    server = await startFleetTestServer({
      blobs: blobReaderFrom(store),
      assetUrls: createS3UrlSigner(connection(), { expiresSeconds, now: () => new Date(now) }),
    });
    server.stores.assets.add("tenant-a", mine.sha256);
    server.stores.assets.add("tenant-b", theirs.sha256);
    token = (await enrollScreen(server, "pi-a")).deviceToken;
    otherToken = (await enrollScreen(server, "pi-b", "tenant-b")).deviceToken;
  }, 30_000);
  afterAll(async () => {
    await server?.close();
    await s3?.close();
    await rm(tempDir, { recursive: true, force: true });
  });

  const get = (sha256: string, headers: Record<string, string> = {}, method = "GET") =>
    fetch(`${server.baseUrl}/assets/${sha256}`, { method, headers, redirect: "manual" });

  it("redirects a screen of the asset's tenant to a pre-signed URL of the object, which serves it without other credentials", async () => {
    now = bucketStart + 1000;
    const response = await get(mine.sha256, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(307);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    const location = new URL(response.headers.get("location") ?? "");
    const key = `sha256/${mine.sha256.slice(0, 2)}/${mine.sha256.slice(2, 4)}/${mine.sha256}`;
    expect(location.origin + location.pathname).toBe(`${s3.endpoint}/${s3.bucket}/${key}`);
    expect(location.searchParams.get("X-Amz-Algorithm")).toBe("AWS4-HMAC-SHA256");
    // Signed at the bucket's start, valid two buckets: at least `expiresSeconds` from any moment in it.
    expect(location.searchParams.get("X-Amz-Date")).toBe("20261207T100000Z");
    expect(location.searchParams.get("X-Amz-Expires")).toBe(String(2 * expiresSeconds));

    // s3rver checks a pre-signed URL's expiry against the wall clock: sign one for now to fetch it.
    now = Date.now();
    const live = (await get(mine.sha256, { authorization: `Bearer ${token}` })).headers.get("location") ?? "";
    const whole = await fetch(live);
    expect(whole.status).toBe(200);
    expect(
      createHash("sha256")
        .update(Buffer.from(await whole.arrayBuffer()))
        .digest("hex"),
    ).toBe(mine.sha256);
    const tail = await fetch(live, { headers: { range: "bytes=100000-" } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(mine.bytes.subarray(100_000))).toBe(true);
  });

  it("gives every request within a signing bucket the identical URL, and a new one in the next bucket", async () => {
    const urlAt = async (at: number) => {
      now = at;
      const response = await get(mine.sha256, { authorization: `Bearer ${token}` });
      expect(response.status).toBe(307);
      return response.headers.get("location");
    };
    const first = await urlAt(bucketStart);
    expect(await urlAt(bucketStart + 1)).toBe(first);
    expect(await urlAt(bucketStart + (expiresSeconds * 1000) / 2)).toBe(first);
    expect(await urlAt(bucketStart + expiresSeconds * 1000 - 1)).toBe(first);
    const next = await urlAt(bucketStart + expiresSeconds * 1000);
    expect(next).not.toBe(first);
    expect(new URL(next ?? "").searchParams.get("X-Amz-Date")).toBe("20261207T101000Z");
  });

  it("answers 401 without a valid device token and 404 for another tenant's asset, with no URL", async () => {
    now = Date.now();
    const anonymous = await get(mine.sha256);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe("Bearer");
    expect(anonymous.headers.get("location")).toBeNull();
    const forged = await get(mine.sha256, { authorization: "Bearer avd_not-a-real-token" });
    expect(forged.status).toBe(401);
    expect(forged.headers.get("location")).toBeNull();
    const otherTenants = await get(theirs.sha256, { authorization: `Bearer ${token}` });
    expect(otherTenants.status).toBe(404);
    expect(otherTenants.headers.get("location")).toBeNull();
    const unknown = await get(blobOf(5, 99).sha256, { authorization: `Bearer ${token}` });
    expect(unknown.status).toBe(404);
    // Tenant B's screen gets its own asset, and not A's.
    expect((await get(theirs.sha256, { authorization: `Bearer ${otherToken}` })).status).toBe(307);
    expect((await get(mine.sha256, { authorization: `Bearer ${otherToken}` })).status).toBe(404);
  });

  it("still answers HEAD and a matching If-None-Match itself (a pre-signed GET URL is no good for HEAD)", async () => {
    const head = await get(mine.sha256, { authorization: `Bearer ${token}` }, "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(mine.bytes.length));
    const cached = await get(mine.sha256, { authorization: `Bearer ${token}`, "if-none-match": `"${mine.sha256}"` });
    expect(cached.status).toBe(304);
  });

  it("puts a public base URL (a CDN) in place of the store's origin, keeping path and signature", async () => {
    const signer = createS3UrlSigner(connection(), {
      expiresSeconds,
      publicBaseUrl: "https://cdn.example.com/media/",
      now: () => new Date(bucketStart),
    });
    const direct = new URL(
      await createS3UrlSigner(connection(), { expiresSeconds, now: () => new Date(bucketStart) }).urlFor(mine.sha256),
    );
    const viaCdn = new URL(await signer.urlFor(mine.sha256));
    expect(viaCdn.origin).toBe("https://cdn.example.com");
    expect(viaCdn.pathname).toBe(`/media${direct.pathname}`);
    expect(viaCdn.search).toBe(direct.search);
  });

  it("answers 503 with Retry-After (not 500) for HEAD while the store is down", async () => {
    await s3.stop();
    try {
      const response = await get(mine.sha256, { authorization: `Bearer ${token}` }, "HEAD");
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("5");
    } finally {
      await s3.start();
    }
  });
});
