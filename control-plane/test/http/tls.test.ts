import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http2 from "node:http2";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";

const run = promisify(execFile);

/** One HTTPS request over HTTP/1.1 (ALPN), trusting the test's self-signed certificate. */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: options.method ?? "GET", headers: options.headers, rejectUnauthorized: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/** One GET over HTTP/2 with TLS: the protocol browsers and players pick on the single TLS port. */
async function getHttp2(base: string, path: string, token: string): Promise<{ status: number; body: Buffer }> {
  const session = http2.connect(base, { rejectUnauthorized: false });
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ":path": path, authorization: `Bearer ${token}` });
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on("response", (headers) => {
        status = Number(headers[":status"]);
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => resolve({ status, body: Buffer.concat(chunks) }));
      stream.on("error", reject);
    });
  } finally {
    session.close();
  }
}

describe("the console and its endpoints on the single TLS port", () => {
  let app: TestApp;
  let clips: ClipFactory;
  let tenant: TestTenant;
  let certDir: string;

  beforeAll(async () => {
    certDir = await mkdtemp(join(tmpdir(), "avtech-tls-"));
    const certFile = join(certDir, "cert.pem");
    const keyFile = join(certDir, "key.pem");
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ]);
    [app, clips] = await Promise.all([startTestApp({ tls: { certFile, keyFile } }), createClipFactory()]);
    tenant = await app.createTenant("tls");
  });
  afterAll(async () => {
    await app?.close();
    await clips?.remove();
    if (certDir) await rm(certDir, { recursive: true, force: true });
  });

  it("serves index.html, takes an upload over HTTP/1.1 and the clip's bytes over HTTP/2", async () => {
    const base = app.addresses.http1Url;
    expect(base.startsWith("https://")).toBe(true);
    const index = await request(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers["cache-control"]).toBe("no-cache");

    const bytes = await readFile(await clips.video("tls.mp4", { seconds: 2 }));
    const upload = await request(`${base}/v1/videos`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${tenant.tokens.editor}`,
        "x-file-name": encodeURIComponent("über clip.mp4"),
        "content-type": "video/mp4",
        "content-length": String(bytes.length),
      },
      body: bytes,
    });
    expect(upload.status).toBe(200);
    const { video } = JSON.parse(upload.body.toString("utf8")) as { video: { id: string; name: string } };
    expect(video.name).toBe("über clip");

    const file = await getHttp2(base, `/v1/videos/${video.id}/file`, tenant.tokens.viewer);
    expect(file.status).toBe(200);
    expect(file.body.equals(bytes)).toBe(true);
  });
});
