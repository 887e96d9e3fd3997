import { randomUUID } from "node:crypto";
import { AuditService } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDbAssetCatalog, createDbPublishSources } from "../../src/core/schedule/index.ts";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { Screen, ScreenTag } from "../../src/platform/db/entities.ts";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";
import { uploadMessages } from "../lib/upload.ts";

describe("ScheduleService", () => {
  let app: TestApp;
  let clips: ClipFactory;
  let tenant: TestTenant;
  let videoIds: string[];

  /** In memory (createRouterTransport) with the server's own routes and interceptors. */
  const schedule = (token: string) => {
    const bearer = bearerToken(token);
    return createClient(
      ScheduleService,
      createRouterTransport(app.server.routes, {
        router: { interceptors: app.server.interceptors },
        transport: { interceptors: [bearer] },
      }),
    );
  };

  beforeAll(async () => {
    [app, clips] = await Promise.all([startTestApp(), createClipFactory()]);
    tenant = await app.createTenant("acme");
    const content = app.client(ContentService, tenant.tokens.editor);
    videoIds = [];
    for (const [name, seconds] of [
      ["a.mp4", 1.5],
      ["b.mp4", 2],
    ] as const) {
      const clip = await clips.video(name, { seconds });
      const { video } = await content.uploadVideo(uploadMessages(clip, { fileName: name }));
      videoIds.push(video?.id ?? "");
    }
  });
  afterAll(async () => {
    await app?.close();
    await clips?.remove();
  });

  it("refuses an empty playlist and an unknown video", async () => {
    const editor = schedule(tenant.tokens.editor);
    await expect(editor.createPlaylist({ name: "empty", videoIds: [] })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "a playlist needs at least one video",
    });
    const ghost = randomUUID();
    await expect(editor.createPlaylist({ name: "ghost", videoIds: [ghost] })).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: expect.stringContaining(ghost),
    });
    expect((await editor.listPlaylists({})).playlists).toEqual([]);
  });

  it("creates a playlist with repeats, sums its duration and updates it with the etag", async () => {
    const editor = schedule(tenant.tokens.editor);
    const [a = "", b = ""] = videoIds;
    const { playlist } = await editor.createPlaylist({ name: "Lobby", videoIds: [a, b, a] });
    expect(playlist?.videoIds).toEqual([a, b, a]);
    expect(Number(playlist?.totalDurationMs)).toBeGreaterThan(4500);
    const id = playlist?.id ?? "";
    const etag = playlist?.etag ?? "";
    const updated = await editor.updatePlaylist({ id, etag, name: "Lobby 2", videoIds: [b] });
    expect(updated.playlist).toMatchObject({ name: "Lobby 2", videoIds: [b] });
    expect(updated.playlist?.etag).not.toBe(etag);
    await expect(editor.updatePlaylist({ id, etag, name: "stale", videoIds: [a] })).rejects.toMatchObject({
      code: Code.Aborted,
      rawMessage: expect.stringMatching(/changed since you read it/),
    });
    expect((await editor.getPlaylist({ id })).playlist?.name).toBe("Lobby 2");
  });

  it("refuses to delete a video a playlist uses, naming the playlist", async () => {
    const [a = ""] = videoIds;
    const { playlist } = await schedule(tenant.tokens.editor).createPlaylist({ name: "Uses A", videoIds: [a] });
    await expect(app.client(ContentService, tenant.tokens.editor).deleteVideo({ id: a })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: expect.stringContaining(`"Uses A" (${playlist?.id})`),
    });
    const files = await app.blobFiles();
    expect(files.filter((f) => f.startsWith("sha256/")).length).toBeGreaterThan(0);
  });

  it("validates rules, allows overlapping windows and detects stale updates", async () => {
    const editor = schedule(tenant.tokens.editor);
    const { playlist } = await editor.createPlaylist({ name: "Mornings", videoIds: [videoIds[0] ?? ""] });
    const base = {
      name: "mornings",
      target: { kind: { case: "tag" as const, value: "lobby" } },
      playlistId: playlist?.id ?? "",
      priority: 10,
      window: { startMinute: 9 * 60, endMinute: 12 * 60 },
      enabled: true,
    };
    await expect(
      editor.createRule({
        rule: { ...base, startDate: { year: 2026, month: 5, day: 2 }, endDate: { year: 2026, month: 5, day: 1 } },
      }),
    ).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringMatching(/end_date is before start_date/),
    });
    const first = await editor.createRule({ rule: base });
    const second = await editor.createRule({ rule: { ...base, name: "overlap", priority: 5 } });
    expect(first.rule?.etag).toBe("1");
    expect(second.rule?.id).toBeDefined();
    const listed = await editor.listRules({ target: base.target });
    expect(listed.rules.map((r) => r.name)).toEqual(["mornings", "overlap"]);

    const rule = first.rule;
    if (!rule) throw new Error("CreateRule returned no rule");
    const updated = await editor.updateRule({ rule: { ...rule, priority: 20 } });
    expect(updated.rule?.etag).toBe("2");
    await expect(editor.updateRule({ rule: { ...rule, priority: 30 } })).rejects.toMatchObject({ code: Code.Aborted });
    await expect(editor.deletePlaylist({ id: playlist?.id ?? "" })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: expect.stringContaining('rule "mornings"'),
    });

    const { events } = await app.client(AuditService, tenant.tokens.admin).listAuditEvents({ subjectId: rule.id });
    const updates = events.filter((e) => e.action.endsWith("/UpdateRule"));
    expect(updates.map((e) => e.result)).toEqual(["aborted", "ok"]);
    expect(JSON.parse(updates[1]?.beforeJson ?? "{}")).toMatchObject({ priority: 10 });
    expect(JSON.parse(updates[1]?.afterJson ?? "{}")).toMatchObject({ priority: 20 });
  });

  it("lets a viewer read but not change schedules", async () => {
    const viewer = schedule(tenant.tokens.viewer);
    expect((await viewer.listPlaylists({})).playlists.length).toBeGreaterThan(0);
    await expect(viewer.createPlaylist({ name: "no", videoIds })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
  });

  it("previews what a screen plays with the shared evaluation function", async () => {
    const editor = schedule(tenant.tokens.editor);
    const em = app.db.orm.em.fork();
    const screen = em.create(Screen, {
      id: randomUUID(),
      tenant: tenant.id,
      name: "Lobby left",
      hardwareId: "hw-1",
      timezone: "Europe/Madrid",
      settings: {},
    });
    em.create(ScreenTag, { id: randomUUID(), tenant: tenant.id, screen, tag: "lobby" });
    await em.flush();

    const { playlist: fallback } = await editor.createPlaylist({ name: "Fallback", videoIds: [videoIds[1] ?? ""] });
    await editor.setDefaultPlaylist({
      target: { kind: { case: "wholeTenant", value: true } },
      playlistId: fallback?.id,
    });
    const { rules } = await editor.listRules({ target: { kind: { case: "tag", value: "lobby" } } });
    const winner = rules[0];

    // 10:00 in Madrid on 2026-06-15 (UTC+2) is 08:00 UTC: inside 09:00-12:00 local.
    const morning = await editor.previewSchedule({
      screenId: screen.id,
      at: timestampFromDate(new Date("2026-06-15T08:00:00Z")),
    });
    expect(morning).toMatchObject({ playlistId: winner?.playlistId, ruleId: winner?.id });
    expect(timestampDate(morning.nextChangeAt ?? timestampFromDate(new Date(0))).toISOString()).toBe(
      "2026-06-15T10:00:00.000Z",
    );
    const evening = await editor.previewSchedule({
      screenId: screen.id,
      at: timestampFromDate(new Date("2026-06-15T18:00:00Z")),
    });
    expect(evening).toMatchObject({ playlistId: fallback?.id, ruleId: "" });

    const other = await app.createTenant("globex");
    await expect(schedule(other.tokens.viewer).previewSchedule({ screenId: screen.id })).rejects.toMatchObject({
      code: Code.NotFound,
    });
  });
  it("gives publishing the tenant's screens, rules, defaults and playlists with their files", async () => {
    const sources = await createDbPublishSources(app.db.orm).forTenant(tenant.id);
    expect(sources.screens).toEqual([
      expect.objectContaining({ name: "Lobby left", tags: ["lobby"], timezone: "Europe/Madrid", groupId: "" }),
    ]);
    expect(sources.rules.map((r) => r.target)).toContainEqual({ kind: "tag", tag: "lobby" });
    expect(sources.defaults).toEqual([{ target: { kind: "tenant" }, playlistId: expect.any(String) }]);
    const fallback = sources.playlists.get(sources.defaults[0]?.playlistId ?? "");
    expect(fallback?.clips[0]).toMatchObject({ videoId: videoIds[1], contentType: "video/mp4" });
    const catalog = createDbAssetCatalog(app.db.orm);
    expect(await catalog.tenantHasAsset(tenant.id, fallback?.clips[0]?.sha256 ?? "")).toBe(true);
    expect(await catalog.tenantHasAsset(randomUUID(), fallback?.clips[0]?.sha256 ?? "")).toBe(false);
  });
});
