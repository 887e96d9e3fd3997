/**
 * Screens fetching assets through pre-signed URLs (issue 14), end to end with real parts: the
 * control plane assembled as main.ts does with the S3 store and `blobStore.presign` (its /assets
 * route, device tokens, tenants in PostgreSQL), s3rver as the object store, a recording HTTP proxy
 * in front of it as the CDN (`presign.publicBaseUrl`), and the player's own downloader
 * (`downloadAsset` over `createHttpGetter`). It lives in the root package because it joins the
 * control plane and the player, which never import each other.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type RealControlPlane,
  type S3Emulator,
  startRealControlPlane,
  startS3Emulator,
} from "@avtech/control-plane/testing";
import { AssetFailure, createHttpGetter, downloadAsset, type HttpGetter } from "@avtech/player/assets";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

/** A request the CDN stand-in received. */
interface ProxiedRequest {
  url: string;
  headers: IncomingHttpHeaders;
  status: number;
}

/**
 * The CDN stand-in: forwards every request to s3rver with the store's Host (as a CDN configured
 * with the origin's host header does, so the signature's host matches), records what it received,
 * and can cut the next response after some bytes (a dropped link mid-download).
 */
interface RecordingProxy {
  url: string;
  seen: ProxiedRequest[];
  cutNextAfterBytes: number | undefined;
  onRequest: (() => void) | undefined;
  close(): Promise<void>;
}

async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const origin = new URL(target);
  const proxy: RecordingProxy = {
    url: "",
    seen: [],
    cutNextAfterBytes: undefined,
    onRequest: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    proxy.onRequest?.();
    const seen: ProxiedRequest = { url: req.url ?? "", headers: { ...req.headers }, status: 0 };
    proxy.seen.push(seen);
    const cut = proxy.cutNextAfterBytes;
    proxy.cutNextAfterBytes = undefined;
    const upstream = request(
      {
        host: origin.hostname,
        port: origin.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: origin.host },
      },
      (answer) => {
        seen.status = answer.statusCode ?? 0;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (cut === undefined) {
          answer.pipe(res);
          return;
        }
        let sent = 0;
        answer.on("data", (chunk: Buffer) => {
          if (sent >= cut) return;
          const part = chunk.subarray(0, cut - sent);
          sent += part.length;
          res.write(part);
          if (sent >= cut) {
            answer.destroy();
            // Let the bytes reach the player before the connection dies, like a link that drops.
            setTimeout(() => res.socket?.destroy(), 20);
          }
        });
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** The real getter, with each request's URL and headers written down (what the player sent where). */
function recordingGetter(): HttpGetter & { sent: { url: URL; headers: Readonly<Record<string, string>> }[] } {
  const real = createHttpGetter();
  const sent: { url: URL; headers: Readonly<Record<string, string>> }[] = [];
  return {
    sent,
    get(url, headers, signal) {
      sent.push({ url, headers });
      return real.get(url, headers, signal);
    },
  };
}

function blobOf(size: number, seed: number): { bytes: Buffer; sha256: string } {
  const bytes = Buffer.alloc(size);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}

describe("assets through pre-signed URLs and a CDN, fetched by the player's downloader", () => {
  let s3: S3Emulator;
  let cdn: RecordingProxy;
  let cp: RealControlPlane;
  let work: string;
  /** Added to the control plane's clock: a past signing time makes an expired URL. */
  let skewMs = 0;
  let token: string;
  const mine = blobOf(600_000, 1);
  const theirs = blobOf(20_000, 2);

  async function addVideo(tenantId: string, blob: { bytes: Buffer; sha256: string }): Promise<void> {
    // The route only asks whether the tenant has a video with this sha256; the bytes need not be a real clip.
    await cp.query(
      `INSERT INTO videos (id, tenant_id, sha256, size_bytes, duration_ms, codec, width, height, name,
                           original_name, content_type, created_by, created_at)
       VALUES (gen_random_uuid(), $1, $2, $3, 5000, 'h264', 1920, 1080, $2, 'clip.mp4', 'video/mp4', 'test', now())`,
      [tenantId, blob.sha256, blob.bytes.length],
    );
    const key = `sha256/${blob.sha256.slice(0, 2)}/${blob.sha256.slice(2, 4)}/${blob.sha256}`;
    const put = await fetch(`${s3.endpoint}/${s3.bucket}/${key}`, { method: "PUT", body: blob.bytes });
    expect(put.status).toBe(200);
  }

  beforeAll(async () => {
    s3 = await startS3Emulator();
    cdn = await startRecordingProxy(s3.endpoint);
    work = await mkdtemp(join(tmpdir(), "avtech-presigned-"));
    cp = await startRealControlPlane({
      clock: { now: () => new Date(Date.now() + skewMs) },
      blobStore: {
        kind: "s3",
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
        presign: { expiresSeconds: 600, publicBaseUrl: cdn.url },
      },
    });
    await addVideo(cp.tenant.id, mine);
    const other = await cp.otherTenant();
    await addVideo(other.id, theirs);
    const { enrollmentKey } = await cp.client(FleetService, cp.adminToken).createEnrollmentKey({ name: "presign" });
    const device = createClient(
      DeviceService,
      createConnectTransport({ baseUrl: cp.addresses.http1Url, httpVersion: "1.1" }),
    );
    const registered = await device.register({ hardwareId: "pi-presign", enrollmentKey, facts: { hostname: "pi" } });
    if (registered.outcome.case !== "enrolled") throw new Error("the screen was not enrolled");
    token = registered.outcome.value.deviceToken;
  }, 120_000);
  afterAll(async () => {
    await cp?.close();
    await cdn?.close();
    await s3?.close();
    await rm(work, { recursive: true, force: true });
  });
  beforeEach(() => {
    skewMs = 0;
    cdn.seen.length = 0;
    cdn.onRequest = undefined;
  });

  const assetUrl = (sha256: string) => new URL(`/assets/${sha256}`, cp.addresses.http1Url);
  const asked = (sha256: string, headers: Record<string, string> = {}) =>
    fetch(assetUrl(sha256), { headers, redirect: "manual" });

  it("redirects only a screen with a valid device token, only for its tenant's assets, to one URL per signing bucket", async () => {
    const anonymous = await asked(mine.sha256);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("location")).toBeNull();
    expect(await anonymous.text()).toMatch(/device token/i);
    expect((await asked(mine.sha256, { authorization: "Bearer avd_forged" })).status).toBe(401);
    const otherTenants = await asked(theirs.sha256, { authorization: `Bearer ${token}` });
    expect(otherTenants.status).toBe(404);
    expect(otherTenants.headers.get("location")).toBeNull();

    // Sign in the middle of a 600 s bucket, so the two requests below cannot straddle a bucket's edge.
    const now = Date.now();
    skewMs = Math.floor(now / 600_000) * 600_000 + 300_000 - now;
    const first = await asked(mine.sha256, { authorization: `Bearer ${token}` });
    const second = await asked(mine.sha256, { authorization: `Bearer ${token}` });
    expect(first.status).toBe(307);
    const location = first.headers.get("location") ?? "";
    expect(location.startsWith(`${cdn.url}/${s3.bucket}/sha256/`)).toBe(true);
    // Within one bucket: the identical URL, which a CDN caches once.
    expect(second.headers.get("location")).toBe(location);
  });

  it("downloads through the redirect, resumes with Range after a cut, verifies the hash, and never sends the token past /assets", async () => {
    const http = recordingGetter();
    const path = join(work, mine.sha256);
    const request = { sha256: mine.sha256, sizeBytes: mine.bytes.length, url: assetUrl(mine.sha256) };
    const context = { http, path, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) };
    cdn.cutNextAfterBytes = 250_000;
    const cut = await downloadAsset(request, context).catch((error: unknown) => error);
    expect(cut).toBeInstanceOf(AssetFailure);
    expect((cut as AssetFailure).reason).toBe("DOWNLOAD_FAILED");
    expect(await readdir(work), "only the part file, nothing under the asset's name").toEqual([`${mine.sha256}.part`]);

    const offsets: number[] = [];
    const outcome = await downloadAsset(request, { ...context, onResume: (offset) => offsets.push(offset) });
    expect(offsets).toEqual([250_000]);
    expect(outcome.resumedFrom).toBe(250_000);
    expect(
      createHash("sha256")
        .update(await readFile(path))
        .digest("hex"),
    ).toBe(mine.sha256);

    // Each attempt went to /assets first (with the token), then to the CDN (without it).
    const hops = http.sent.map((s) => [s.url.origin, s.headers.authorization !== undefined, s.headers.range]);
    expect(hops).toEqual([
      [cp.addresses.http1Url, true, undefined],
      [cdn.url, false, undefined],
      [cp.addresses.http1Url, true, "bytes=250000-"],
      [cdn.url, false, "bytes=250000-"],
    ]);
    expect(cdn.seen.map((r) => [r.status, r.headers.range])).toEqual([
      [200, undefined],
      [206, "bytes=250000-"],
    ]);
    expect(
      cdn.seen.filter((r) => r.headers.authorization !== undefined),
      "no Authorization header reached the store's side",
    ).toEqual([]);
  });

  it("comes back to /assets when the redirect's URL has expired, and gets a fresh one that works", async () => {
    // The first URL is signed three hours in the past (expired); the CDN's first request sets the clock right.
    skewMs = -3 * 3600_000;
    cdn.onRequest = () => {
      skewMs = 0;
    };
    const http = recordingGetter();
    const path = join(work, `expired-${mine.sha256}`);
    await downloadAsset(
      { sha256: mine.sha256, sizeBytes: mine.bytes.length, url: assetUrl(mine.sha256) },
      { http, path, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) },
    );
    expect(
      createHash("sha256")
        .update(await readFile(path))
        .digest("hex"),
    ).toBe(mine.sha256);
    expect(cdn.seen.map((r) => r.status)).toEqual([403, 200]);
    const [expired, fresh] = cdn.seen.map((r) => new URL(r.url, cdn.url).searchParams.get("X-Amz-Date"));
    expect(expired).not.toBe(fresh);
    expect(http.sent.map((s) => s.url.origin)).toEqual([
      cp.addresses.http1Url,
      cdn.url,
      cp.addresses.http1Url,
      cdn.url,
    ]);
  });
});
