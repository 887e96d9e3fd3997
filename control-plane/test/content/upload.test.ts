import { copyFile, stat, truncate, writeFile } from "node:fs/promises";
import { AuditService } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { Role } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { UserService } from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";
import { bytesMessages, uploadMessages } from "../lib/upload.ts";

const maxUploadBytes = 1024 * 1024;

// Over the Connect protocol (HTTP/1.1, Connect's own pipeline) and over plain gRPC (h2c), which the
// server serves through its lean stream route (src/platform/server/grpc-stream-route.ts): the same refusals either way.
describe.each(["connect", "grpc"] as const)("UploadVideo over %s", (transport) => {
  let app: TestApp;
  let clips: ClipFactory;
  let tenant: TestTenant;
  let other: TestTenant;
  let good: string;

  beforeAll(async () => {
    [app, clips] = await Promise.all([startTestApp({ limits: { maxUploadBytes } }), createClipFactory()]);
    [tenant, other] = await Promise.all([app.createTenant("acme"), app.createTenant("globex")]);
    good = await clips.video("good.mp4", { seconds: 2 });
  });
  afterAll(async () => {
    await app?.close();
    await clips?.remove();
  });

  const editor = () => app.client(ContentService, tenant.tokens.editor, transport);
  const videoRows = async () =>
    Number((await app.db.orm.em.getConnection().execute<{ n: string }[]>("select count(*) as n from videos"))[0]?.n);

  /** Runs `attempt`, expects `code` with a message matching `message`, and checks nothing was left behind. */
  async function expectRefused(attempt: () => Promise<unknown>, code: Code, message: RegExp): Promise<void> {
    const rowsBefore = await videoRows();
    const filesBefore = await app.blobFiles();
    const error = await attempt().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error, "the call must fail").toBeDefined();
    expect(Code[error?.code ?? Code.Unknown]).toBe(Code[code]);
    expect(error?.rawMessage).toMatch(message);
    expect(await videoRows(), "no row").toBe(rowsBefore);
    expect(await app.blobFiles(), "no blob and no temp file").toEqual(filesBefore);
  }

  const upload = (path: string, fileName: string, token = tenant.tokens.editor) =>
    app.client(ContentService, token, transport).uploadVideo(uploadMessages(path, { fileName }));

  it("stores a valid clip with its probed facts, a thumbnail, and lists it", async () => {
    const { video: stored, deduplicated } = await upload(good, "lobby.mp4");
    expect(deduplicated).toBe(false);
    if (!stored) throw new Error("no video in the response");
    const video = stored;
    expect(video).toMatchObject({ name: "lobby", originalName: "lobby.mp4", codec: "h264", width: 160, height: 120 });
    expect(video.durationMs).toBeGreaterThanOrEqual(1900);
    expect(video.durationMs).toBeLessThanOrEqual(2100);
    expect(video.sizeBytes).toBe(BigInt((await stat(good)).size));
    expect(video.thumbnailUrl).toBe(`/v1/videos/${video.id}/thumbnail.jpg`);
    const files = await app.blobFiles();
    expect(files).toContain(`sha256/${video.sha256.slice(0, 2)}/${video.sha256.slice(2, 4)}/${video.sha256}`);
    expect(files.some((f) => f.startsWith("tmp/"))).toBe(false);

    const thumb = await fetch(`${app.addresses.http1Url}${video.thumbnailUrl}`, {
      headers: { authorization: `Bearer ${tenant.tokens.viewer}` },
    });
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get("content-type")).toBe("image/jpeg");
    const jpeg = new Uint8Array(await thumb.arrayBuffer());
    expect([jpeg[0], jpeg[1]]).toEqual([0xff, 0xd8]);
    const otherTenantThumb = await fetch(`${app.addresses.http1Url}${video.thumbnailUrl}`, {
      headers: { authorization: `Bearer ${other.tokens.viewer}` },
    });
    expect(otherTenantThumb.status).toBe(404);

    const list = await app.client(ContentService, tenant.tokens.viewer, transport).listVideos({});
    expect(list.videos.map((v) => v.id)).toContain(video.id);
    expect(list.totalCount).toBe(1);
    const usage = await app.client(ContentService, tenant.tokens.viewer, transport).getStorageUsage({});
    expect(usage).toMatchObject({ usedBytes: video.sizeBytes, videoCount: 1, maxUploadBytes: BigInt(maxUploadBytes) });
  });

  it("deduplicates the same clip within a tenant: one row, one blob", async () => {
    const filesBefore = await app.blobFiles();
    const again = await upload(good, "copy.mp4");
    expect(again.deduplicated).toBe(true);
    expect(await app.blobFiles()).toEqual(filesBefore);
    expect((await editor().listVideos({})).totalCount).toBe(1);
  });

  it("keeps one blob when another tenant uploads the same file, and a row per tenant", async () => {
    const filesBefore = await app.blobFiles();
    const theirs = await upload(good, "same.mp4", other.tokens.editor);
    expect(theirs.deduplicated).toBe(false);
    expect(await app.blobFiles()).toEqual(filesBefore);
  });

  it("refuses a clip that is (almost) 0 s long", async () => {
    const clip = await clips.video("zero.mp4", { seconds: 1, frames: 1 });
    await expectRefused(() => upload(clip, "zero.mp4"), Code.InvalidArgument, /0\.\d+ s long; clips must be 1–20 s/);
  });

  for (const seconds of [20.5, 21]) {
    it(`refuses a ${seconds} s clip`, async () => {
      const clip = await clips.video(`long-${seconds}.mp4`, { seconds, size: "64x48", fps: 4 });
      await expectRefused(
        () => upload(clip, "long.mp4"),
        Code.InvalidArgument,
        new RegExp(`${seconds.toFixed(2).replace(".", "\\.")} s long; clips must be 1–20 s`),
      );
    });
  }

  it("refuses a one-hour clip", async () => {
    const clip = await clips.video("hour.mp4", { seconds: 3600, size: "32x32", fps: 1 });
    await expectRefused(() => upload(clip, "hour.mp4"), Code.InvalidArgument, /3600\.00 s long/);
  });

  it("refuses a text file renamed .mp4", async () => {
    const path = clips.path("notes.mp4");
    await writeFile(path, "these are my meeting notes, not a video\n".repeat(50));
    await expectRefused(() => upload(path, "notes.mp4"), Code.InvalidArgument, /not a video that ffprobe can read/);
  });

  it("refuses a truncated mp4", async () => {
    const path = clips.path("truncated.mp4");
    await copyFile(good, path);
    await truncate(path, Math.floor((await stat(path)).size / 3));
    await expectRefused(
      () => upload(path, "truncated.mp4"),
      Code.InvalidArgument,
      /truncated: its header announces \d+ frames but only \d+ are present/,
    );
  });

  it("refuses an audio-only file", async () => {
    const clip = await clips.audioOnly("sound.m4a", 3);
    await expectRefused(() => upload(clip, "sound.mp4"), Code.InvalidArgument, /only audio/);
  });

  it("refuses a 4K clip", async () => {
    const clip = await clips.video("uhd.mp4", { seconds: 2, size: "3840x2160", fps: 1, frames: 2 });
    await expectRefused(() => upload(clip, "uhd.mp4"), Code.InvalidArgument, /3840x2160; the maximum is 1920x1080/);
  });

  it("refuses an upload over the size limit while streaming", async () => {
    const bytes = new Uint8Array(maxUploadBytes + 300_000);
    await expectRefused(
      () => editor().uploadVideo(bytesMessages(bytes, { fileName: "big.mp4" })),
      Code.ResourceExhausted,
      /larger than the limit of 1\.0 MiB/,
    );
  });

  it("refuses an upload that declares a size over the limit before any byte", async () => {
    await expectRefused(
      () => editor().uploadVideo(bytesMessages(new Uint8Array(10), { fileName: "big.mp4", sizeBytes: 5_000_000n })),
      Code.ResourceExhausted,
      /the limit is 1\.0 MiB/,
    );
  });

  it("refuses an upload over the tenant quota", async () => {
    const small = await app.createTenant("tiny", { storageQuotaBytes: 1000 });
    await expectRefused(
      () => upload(good, "good.mp4", small.tokens.editor),
      Code.ResourceExhausted,
      /does not fit in the tenant's storage quota/,
    );
  });

  it("cleans up when the client aborts mid-stream", async () => {
    const filesBefore = await app.blobFiles();
    const rowsBefore = await videoRows();
    const controller = new AbortController();
    async function* stalled() {
      yield { part: { case: "metadata" as const, value: { fileName: "stall.mp4" } } };
      yield { part: { case: "chunk" as const, value: new Uint8Array(100_000) } };
      await new Promise((resolve) => setTimeout(resolve, 200));
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    }
    await expect(editor().uploadVideo(stalled(), { signal: controller.signal })).rejects.toThrow();
    await expect.poll(() => app.blobFiles(), { timeout: 5000 }).toEqual(filesBefore);
    expect(await videoRows()).toBe(rowsBefore);
  });

  it("strips path components and control characters from names", async () => {
    const clip = await clips.video("named.mp4", { seconds: 1.5 });
    const { video } = await app
      .client(ContentService, tenant.tokens.editor, transport)
      .uploadVideo(uploadMessages(clip, { fileName: "../../etc/\u0007evil\nname.mp4" }));
    expect(video).toMatchObject({ originalName: "evil name.mp4", name: "evil name" });
  });

  it("hides another tenant's videos", async () => {
    const mine = (await editor().listVideos({})).videos[0];
    expect(mine).toBeDefined();
    const theirs = app.client(ContentService, other.tokens.admin, transport);
    await expect(theirs.getVideo({ id: mine?.id ?? "" })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(theirs.deleteVideo({ id: mine?.id ?? "" })).rejects.toMatchObject({ code: Code.NotFound });
    expect((await editor().getVideo({ id: mine?.id ?? "" })).video?.id).toBe(mine?.id);
  });

  it("refuses a viewer's upload and audits the attempt", async () => {
    await expectRefused(
      () => upload(good, "viewer.mp4", tenant.tokens.viewer),
      Code.PermissionDenied,
      /needs the editor role; the caller is viewer/,
    );
    const { events } = await app.client(AuditService, tenant.tokens.admin).listAuditEvents({});
    expect(events[0]).toMatchObject({
      action: "avtech.content.v1.ContentService/UploadVideo",
      actorName: "viewer token",
      result: "permission_denied",
    });
  });

  it("refuses a call without a token", async () => {
    await expect(app.client(ContentService, undefined, transport).listVideos({})).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it("answers a malformed protobuf body with a decode error and stays up", async () => {
    const response = await fetch(`${app.addresses.http1Url}/avtech.content.v1.ContentService/ListVideos`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: `Bearer ${tenant.tokens.viewer}` },
      body: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99]),
    });
    const body = (await response.json()) as { code: string; message: string };
    expect(["invalid_argument", "internal"]).toContain(body.code);
    expect(body.message).toMatch(/parse|decode|premature|invalid|wire/i);
    expect((await editor().listVideos({})).videos.length).toBeGreaterThan(0);
  });

  it("refuses an unknown enum value", async () => {
    const users = app.client(UserService, tenant.tokens.admin);
    await expect(
      users.createUser({ email: "x@example.com", password: "long enough password", role: 99 as Role }),
    ).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: expect.stringMatching(/got 99/) });
    await expect(
      users.createUser({ email: "x@example.com", password: "long enough password", role: Role.UNSPECIFIED }),
    ).rejects.toMatchObject({ code: Code.InvalidArgument });
    expect((await users.listUsers({})).users).toEqual([]);
  });
  it("deletes a video, keeping the blob while another tenant still has it", async () => {
    const [sha] = (await editor().listVideos({ nameContains: "lobby" })).videos;
    expect(sha).toBeDefined();
    const blob = `sha256/${sha?.sha256.slice(0, 2)}/${sha?.sha256.slice(2, 4)}/${sha?.sha256}`;
    await editor().deleteVideo({ id: sha?.id ?? "" });
    await expect(editor().getVideo({ id: sha?.id ?? "" })).rejects.toMatchObject({ code: Code.NotFound });
    expect(await app.blobFiles(), "globex still uses the file").toContain(blob);
    const theirs = app.client(ContentService, other.tokens.editor, transport);
    const [copy] = (await theirs.listVideos({})).videos;
    await theirs.deleteVideo({ id: copy?.id ?? "" });
    expect(await app.blobFiles()).not.toContain(blob);
  });
});
