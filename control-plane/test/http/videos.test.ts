import { readFile, stat } from "node:fs/promises";
import http from "node:http";
import { AuditService } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";

const maxUploadBytes = 1024 * 1024;

describe("the console's HTTP endpoints on the real server", () => {
  let app: TestApp;
  let clips: ClipFactory;
  let tenant: TestTenant;
  let other: TestTenant;
  let good: string;
  let long: string;

  beforeAll(async () => {
    [app, clips] = await Promise.all([startTestApp({ limits: { maxUploadBytes } }), createClipFactory()]);
    [tenant, other] = await Promise.all([app.createTenant("acme"), app.createTenant("globex")]);
    [good, long] = await Promise.all([
      clips.video("good.mp4", { seconds: 2 }),
      clips.video("long.mp4", { seconds: 25, size: "32x32", fps: 1 }),
    ]);
  });
  afterAll(async () => {
    await app?.close();
    await clips?.remove();
  });

  const videoRows = async () =>
    Number((await app.db.orm.em.getConnection().execute<{ n: string }[]>("select count(*) as n from videos"))[0]?.n);

  const post = async (body: Uint8Array, fileName: string, token: string) =>
    fetch(`${app.addresses.http1Url}/v1/videos`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "x-file-name": encodeURIComponent(fileName),
        "content-type": "video/mp4",
      },
      body,
    });

  /** Posts `body`, expects a Connect error JSON with `status`/`code`, and no row, blob or temp file left. */
  async function expectRefused(body: Uint8Array, fileName: string, token: string, status: number, code: string) {
    const rowsBefore = await videoRows();
    const filesBefore = await app.blobFiles();
    const res = await post(body, fileName, token);
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/json");
    const error = (await res.json()) as { code: string; message: string };
    expect(error.code).toBe(code);
    expect(await videoRows(), "no row").toBe(rowsBefore);
    expect(await app.blobFiles(), "no blob and no temp file").toEqual(filesBefore);
    return error.message;
  }

  let videoId = "";
  let videoBytes: Buffer;

  it("stores an uploaded clip through the UploadVideo ingest and audits it", async () => {
    videoBytes = await readFile(good);
    const res = await post(videoBytes, "Spring promo.mp4", tenant.tokens.editor);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      video: { id: string; name: string; originalName: string; sizeBytes: string; codec: string; sha256: string };
      deduplicated?: boolean;
    };
    expect(body.video).toMatchObject({ name: "Spring promo", originalName: "Spring promo.mp4", codec: "h264" });
    expect(body.video.sizeBytes).toBe(String((await stat(good)).size));
    expect(body.deduplicated ?? false).toBe(false);
    videoId = body.video.id;
    const files = await app.blobFiles();
    expect(files).toContain(
      `sha256/${body.video.sha256.slice(0, 2)}/${body.video.sha256.slice(2, 4)}/${body.video.sha256}`,
    );
    expect(files.some((f) => f.startsWith("tmp/"))).toBe(false);

    const again = await post(videoBytes, "copy.mp4", tenant.tokens.editor);
    expect(((await again.json()) as { deduplicated: boolean }).deduplicated).toBe(true);

    const { events } = await app.client(AuditService, tenant.tokens.admin).listAuditEvents({});
    const uploads = events.filter((e) => e.action === "avtech.content.v1.ContentService/UploadVideo");
    expect(uploads.some((e) => e.subjectId === videoId && e.result === "ok")).toBe(true);
  });

  it("refuses an unusable clip with a readable 400 and leaves nothing behind", async () => {
    const message = await expectRefused(
      await readFile(long),
      "long.mp4",
      tenant.tokens.editor,
      400,
      "invalid_argument",
    );
    expect(message).toMatch(/20(\.0)? ?s/);
    const junk = await expectRefused(Buffer.alloc(4096, 7), "junk.mp4", tenant.tokens.editor, 400, "invalid_argument");
    expect(junk.length).toBeGreaterThan(10);
    const { events } = await app.client(AuditService, tenant.tokens.admin).listAuditEvents({});
    expect(events.some((e) => e.action.endsWith("/UploadVideo") && e.result === "invalid_argument")).toBe(true);
  });

  it("enforces the size limit from content-length before reading the body", async () => {
    const message = await expectRefused(
      Buffer.alloc(maxUploadBytes + 1),
      "big.mp4",
      tenant.tokens.editor,
      429,
      "resource_exhausted",
    );
    expect(message).toMatch(/limit/);
  });

  it("refuses viewers (403) and callers without a valid token (401)", async () => {
    await expectRefused(videoBytes, "v.mp4", tenant.tokens.viewer, 403, "permission_denied");
    await expectRefused(videoBytes, "v.mp4", "not-a-token", 401, "unauthenticated");
    const { events } = await app.client(AuditService, tenant.tokens.admin).listAuditEvents({});
    expect(events.some((e) => e.action.endsWith("/UploadVideo") && e.result === "permission_denied")).toBe(true);
  });

  it("serves the clip's bytes to any role of its tenant, with Range", async () => {
    const url = `${app.addresses.http1Url}/v1/videos/${videoId}/file`;
    const full = await fetch(url, { headers: { authorization: `Bearer ${tenant.tokens.viewer}` } });
    expect(full.status).toBe(200);
    expect(full.headers.get("content-type")).toBe("video/mp4");
    expect(Buffer.from(await full.arrayBuffer()).equals(videoBytes)).toBe(true);
    const part = await fetch(url, {
      headers: { authorization: `Bearer ${tenant.tokens.viewer}`, range: "bytes=10-19" },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 10-19/${videoBytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(videoBytes.subarray(10, 20))).toBe(true);
    expect((await fetch(url)).status).toBe(401);
  });

  it("answers 404 to another tenant and for unknown ids", async () => {
    const res = await fetch(`${app.addresses.http1Url}/v1/videos/${videoId}/file`, {
      headers: { authorization: `Bearer ${other.tokens.admin}` },
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe("not_found");
    const unknown = await fetch(`${app.addresses.http1Url}/v1/videos/not-a-uuid/file`, {
      headers: { authorization: `Bearer ${tenant.tokens.admin}` },
    });
    expect(unknown.status).toBe(404);
  });

  it("serves the built console at / and never a file outside dist", async () => {
    const index = await fetch(`${app.addresses.http1Url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const html = await index.text();
    const script = /src="\.?\/?(console-assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script, "index.html references a hashed script under console-assets/").toBeDefined();
    const js = await fetch(`${app.addresses.http1Url}/${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    for (const path of ["/../package.json", "/console-assets/../../package.json", "/%2e%2e/%2e%2e/package.json"]) {
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port: app.addresses.http1Port, path }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on("error", reject);
      });
      expect(status, path).toBe(404);
    }
  });
});
