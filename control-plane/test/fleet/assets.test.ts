import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectError } from "@connectrpc/connect";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlobReader } from "../../src/fleet/asset-http/index.ts";
import { createAssetHandler } from "../../src/fleet/asset-http/index.ts";
import { parseRange } from "../../src/platform/http/index.ts";
import { enrollScreen, openStream } from "../lib/fleet-device.ts";
import { type FleetTestServer, startFleetTestServer } from "../lib/fleet-server.ts";

/** The fs blob layout in miniature: one file per sha256 in a temp folder. */
function folderBlobs(root: string): BlobReader {
  return {
    stat: async (sha) => {
      const found = await stat(join(root, sha)).catch(() => undefined);
      return found ? { size: found.size } : undefined;
    },
    open: async (sha, { start, end }) => createReadStream(join(root, sha), { start, end }),
  };
}

describe("GET /assets/<sha256>", () => {
  let root: string;
  let server: FleetTestServer;
  // Players fetch assets over HTTP/1.1 (the HTTP/2 port is h2c-only without TLS), so the
  // handler also runs on a plain http server here.
  let http1: http.Server;
  let http1Url: string;
  let token: string;
  let otherToken: string;
  const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  const sha = createHash("sha256").update(body).digest("hex");
  const otherBody = Buffer.from("belongs to tenant b");
  const otherSha = createHash("sha256").update(otherBody).digest("hex");

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "avtech-assets-"));
    await writeFile(join(root, sha), body);
    await writeFile(join(root, otherSha), otherBody);
    server = await startFleetTestServer({ blobs: folderBlobs(root) });
    server.stores.assets.add("tenant-a", sha);
    server.stores.assets.add("tenant-b", otherSha);
    const handler = createAssetHandler({
      blobs: folderBlobs(root),
      screens: server.stores.screens,
      assets: server.stores.assets,
      logger: pino({ level: "silent" }),
    });
    http1 = http.createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => http1.listen(0, "127.0.0.1", resolve));
    http1Url = `http://127.0.0.1:${(http1.address() as AddressInfo).port}`;
    token = (await enrollScreen(server, "pi-a")).deviceToken;
    otherToken = (await enrollScreen(server, "pi-b", "tenant-b")).deviceToken;
  });
  afterAll(async () => {
    await server.close();
    http1.close();
    await rm(root, { recursive: true, force: true });
  });

  const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
    fetch(`${http1Url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...headers } });

  it("serves the whole file with ETag and immutable caching", async () => {
    const response = await get(`/assets/${sha}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("etag")).toBe(`"${sha}"`);
    expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(Buffer.from(await response.arrayBuffer())).toEqual(body);
  });

  it("serves ranges with 206, refuses unsatisfiable ones with 416, and honours If-Range", async () => {
    const partial = await get(`/assets/${sha}`, { range: "bytes=100-199" });
    expect(partial.status).toBe(206);
    expect(partial.headers.get("content-range")).toBe("bytes 100-199/1000");
    expect(Buffer.from(await partial.arrayBuffer())).toEqual(body.subarray(100, 200));
    const resume = await get(`/assets/${sha}`, { range: "bytes=990-" });
    expect(Buffer.from(await resume.arrayBuffer())).toEqual(body.subarray(990));
    const beyond = await get(`/assets/${sha}`, { range: "bytes=1000-" });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe("bytes */1000");
    await beyond.arrayBuffer();
    const stale = await get(`/assets/${sha}`, { range: "bytes=0-9", "if-range": '"other"' });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe(1000);
  });

  it("answers HEAD with the size and no body", async () => {
    const response = await get(`/assets/${sha}`, {}, "HEAD");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("1000");
  });

  it("refuses a missing token with 401 and another tenant's asset exactly like a missing one", async () => {
    const anonymous = await fetch(`${http1Url}/assets/${sha}`);
    expect(anonymous.status).toBe(401);
    await anonymous.arrayBuffer();
    const foreign = await get(`/assets/${otherSha}`);
    const missing = await get(`/assets/${"0".repeat(64)}`);
    expect([foreign.status, missing.status]).toEqual([404, 404]);
    expect(await foreign.text()).toBe(await missing.text());
    const owner = await fetch(`${http1Url}/assets/${otherSha}`, { headers: { authorization: `Bearer ${otherToken}` } });
    expect(Buffer.from(await owner.arrayBuffer())).toEqual(otherBody);
  });

  it("refuses a token no screen holds with 401 and the very message DeviceService.Connect gives", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-revoked");
    await server.fleet().revokeScreenToken({ id: deviceId });
    const stream = openStream(server.device(), deviceToken);
    const refused = ConnectError.from(await stream.ended);
    // A revoked device token, and one that never was (e.g. a user's API token): no device door opens.
    for (const other of [deviceToken, "avt_a-user-api-token"]) {
      const response = await get(`/assets/${sha}`, { authorization: `Bearer ${other}` });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe("Bearer");
      expect(await response.text()).toBe(`${refused.rawMessage}\n`);
    }
    const anonymous = await fetch(`${http1Url}/assets/${sha}`);
    expect(await anonymous.text()).toBe("send the device token as `authorization: Bearer <token>`\n");
  });

  it("serves the same over HTTP/2 next to the Connect handler", async () => {
    const session = http2.connect(server.baseUrl);
    try {
      const request = session.request({
        ":path": `/assets/${sha}`,
        range: "bytes=0-9",
        authorization: `Bearer ${token}`,
      });
      const chunks: Buffer[] = [];
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => request.on("response", resolve));
      for await (const chunk of request) chunks.push(chunk as Buffer);
      expect(headers[":status"]).toBe(206);
      expect(Buffer.concat(chunks)).toEqual(body.subarray(0, 10));
    } finally {
      session.close();
    }
  });

  it("parses the range forms players send", () => {
    expect(parseRange("bytes=0-0", 10)).toEqual({ start: 0, end: 0 });
    expect(parseRange("bytes=-3", 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange("bytes=5-100", 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange("bytes=0-1,4-5", 10)).toBeUndefined();
    expect(parseRange("bytes=10-", 10)).toBe("unsatisfiable");
  });
});
