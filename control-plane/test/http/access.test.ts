import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { type AuditEvent, AuditService } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { ContentService, type Video } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRoutes, methodPolicy } from "../../src/platform/auth/policy.ts";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { eventually } from "../lib/fleet-device.ts";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";
import { bytesMessages, uploadMessages } from "../lib/upload.ts";

/** An audit row without what differs between any two rows (its id and time). */
function comparable(event: AuditEvent | undefined) {
  if (!event) return undefined;
  const { actorId, actorName, action, subjectType, subjectId, beforeJson, afterJson, result, message } = event;
  return { actorId, actorName, action, subjectType, subjectId, beforeJson, afterJson, result, message };
}

describe("the console's HTTP routes check access like the RPCs they stand for", () => {
  let app: TestApp;
  let clips: ClipFactory;
  let tenant: TestTenant;
  let other: TestTenant;
  let clipPath: string;
  let clipBytes: Buffer;
  /** Stored through UploadVideo by the tenant's editor. */
  let video: Video;

  beforeAll(async () => {
    [app, clips] = await Promise.all([startTestApp(), createClipFactory()]);
    [tenant, other] = await Promise.all([app.createTenant("acme"), app.createTenant("globex")]);
    clipPath = await clips.video("access.mp4", { seconds: 2 });
    clipBytes = await readFile(clipPath);
    const stored = await app
      .client(ContentService, tenant.tokens.editor)
      .uploadVideo(uploadMessages(clipPath, { fileName: "access.mp4" }));
    if (!stored.video) throw new Error("UploadVideo returned no video");
    video = stored.video;
    // Wait for UploadVideo's audit row, so the counts below start from a settled log whatever the
    // transport's timing of a streamed call's end.
    const { id } = video;
    await eventually(async () => {
      const { events } = await app.client(AuditService, tenant.tokens.admin).listAuditEvents({ subjectId: id });
      return events.length === 1;
    });
  });
  afterAll(async () => {
    await app?.close();
    await clips?.remove();
  });

  const url = (path: string) => `${app.addresses.http1Url}${path}`;
  const auth = (token: string | undefined): Record<string, string> =>
    token === undefined ? {} : { authorization: `Bearer ${token}` };
  /** The two newest audit rows: one written by each door, in either order (both may share a millisecond). */
  const lastTwo = async () =>
    (await app.client(AuditService, tenant.tokens.admin).listAuditEvents({ pageSize: 2 })).events.map(comparable);
  const eventCount = async () =>
    Number(
      (await app.db.orm.em.getConnection().execute<{ n: string }[]>("select count(*) as n from audit_events"))[0]?.n,
    );

  /** POST /v1/videos with `body` as `token`. */
  const post = (body: Uint8Array, fileName: string, token: string | undefined) =>
    fetch(url("/v1/videos"), {
      method: "POST",
      headers: { ...auth(token), "x-file-name": encodeURIComponent(fileName), "content-type": "video/mp4" },
      body,
    });
  /** UploadVideo with `body` as `token`; resolves to the error (undefined on success). */
  const rpcUpload = (body: Uint8Array, fileName: string, token: string | undefined) =>
    app
      .client(ContentService, token)
      .uploadVideo(bytesMessages(body, { fileName, sizeBytes: BigInt(body.byteLength) }))
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );

  describe("POST /v1/videos (as UploadVideo)", () => {
    it("answers 401 without a token or with an unknown one, and audits nothing, like UploadVideo", async () => {
      const before = await eventCount();
      for (const token of [undefined, "avt_not-a-token"]) {
        const res = await post(clipBytes, "anon.mp4", token);
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toBe("Bearer");
        expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
        expect((await rpcUpload(clipBytes, "anon.mp4", token))?.code).toBe(Code.Unauthenticated);
      }
      expect(await eventCount()).toBe(before);
    });

    it("answers 403 to a viewer and audits the refusal exactly as UploadVideo does", async () => {
      const res = await post(clipBytes, "viewer.mp4", tenant.tokens.viewer);
      expect(res.status).toBe(403);
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe("permission_denied");
      const rpc = await rpcUpload(clipBytes, "viewer.mp4", tenant.tokens.viewer);
      expect(rpc).toMatchObject({ code: Code.PermissionDenied, rawMessage: body.message });
      const [row, otherRow] = await lastTwo();
      expect(row).toEqual({
        actorId: expect.any(String),
        actorName: "viewer token",
        action: "avtech.content.v1.ContentService/UploadVideo",
        subjectType: "",
        subjectId: "",
        beforeJson: "",
        afterJson: "",
        result: "permission_denied",
        message: "UploadVideo needs the editor role; the caller is viewer",
      });
      expect(otherRow).toEqual(row);
    });

    it("audits a clip the ingest refuses exactly as UploadVideo does", async () => {
      const junk = Buffer.alloc(4096, 7);
      expect((await post(junk, "junk.mp4", tenant.tokens.editor)).status).toBe(400);
      expect((await rpcUpload(junk, "junk.mp4", tenant.tokens.editor))?.code).toBe(Code.InvalidArgument);
      const [row, otherRow] = await lastTwo();
      expect(row).toMatchObject({
        actorName: "editor token",
        subjectType: "video",
        subjectId: "",
        result: "invalid_argument",
      });
      expect(otherRow).toEqual(row);
    });

    it("audits a stored clip exactly as UploadVideo does: same actor, action, subject and after", async () => {
      // The same bytes deduplicate to the video UploadVideo stored, so both rows name one subject.
      const res = await post(clipBytes, "access.mp4", tenant.tokens.editor);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { video: { id: string } }).video.id).toBe(video.id);
      const { events: rows } = await app
        .client(AuditService, tenant.tokens.admin)
        .listAuditEvents({ subjectId: video.id });
      const [httpRow, rpcRow] = rows;
      expect(rows).toHaveLength(2);
      expect(comparable(httpRow)).toMatchObject({ actorName: "editor token", subjectType: "video", result: "ok" });
      expect(JSON.parse(httpRow?.afterJson ?? "{}")).toMatchObject({ id: video.id, sha256: video.sha256 });
      expect(comparable(httpRow)).toEqual(comparable(rpcRow));
    });
  });

  // The reads stand for GetVideo, whose minimum role is the lowest one (viewer): no token can be of
  // a role below it, so there is no 403 to provoke here; the policy test and HttpAccess's unit test
  // cover the refusal path these routes share with the upload.
  describe.each([
    {
      route: "GET /v1/videos/<id>/file",
      method: httpRoutes.videoFile,
      path: (id: string) => `/v1/videos/${id}/file`,
      type: "video/mp4",
    },
    {
      route: "GET /v1/videos/<id>/thumbnail.jpg",
      method: httpRoutes.videoThumbnail,
      path: (id: string) => `/v1/videos/${id}/thumbnail.jpg`,
      type: "image/jpeg",
    },
  ])("$route (as GetVideo)", ({ method, path, type }) => {
    it("needs GetVideo's role, the lowest, and audits nothing", async () => {
      expect(methodPolicy(method)).toMatchObject({ public: false, minRole: "viewer", mutating: false });
      const before = await eventCount();
      for (const token of [tenant.tokens.viewer, tenant.tokens.editor, tenant.tokens.admin]) {
        const res = await fetch(url(path(video.id)), { headers: auth(token) });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toBe(type);
        await res.arrayBuffer();
      }
      expect(await eventCount()).toBe(before);
    });

    it("answers 401 without a token, with another scheme or with an unknown token", async () => {
      for (const headers of [{}, { authorization: "Basic dXNlcjpwdw==" }, auth("avt_not-a-token")]) {
        const res = await fetch(url(path(video.id)), { headers });
        expect(res.status, JSON.stringify(headers)).toBe(401);
        await res.arrayBuffer();
      }
    });

    it("answers 404 to another tenant exactly as for an unknown id, as GetVideo answers NOT_FOUND", async () => {
      const foreign = await fetch(url(path(video.id)), { headers: auth(other.tokens.admin) });
      const unknown = await fetch(url(path(randomUUID())), { headers: auth(tenant.tokens.admin) });
      expect([foreign.status, unknown.status]).toEqual([404, 404]);
      expect(foreign.headers.get("content-type")).toBe(unknown.headers.get("content-type"));
      await Promise.all([foreign.arrayBuffer(), unknown.arrayBuffer()]);
      await expect(app.client(ContentService, other.tokens.admin).getVideo({ id: video.id })).rejects.toMatchObject({
        code: Code.NotFound,
      });
    });
  });
});
