import { randomUUID } from "node:crypto";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import {
  DefaultPlaylistSchema,
  ScheduleService,
  TargetSchema,
} from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Group } from "../../src/platform/db/entities.ts";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";
import { uploadMessages } from "../lib/upload.ts";

/** ScheduleService.ListDefaultPlaylists over real HTTP, against PostgreSQL. Each test has its own tenant. */
describe("ScheduleService default playlists", () => {
  let app: TestApp;
  let clips: ClipFactory;
  let clip: string;
  let tenants = 0;

  const everyScreen = create(TargetSchema, { kind: { case: "wholeTenant", value: true } });
  const group = (id: string) => create(TargetSchema, { kind: { case: "groupId", value: id } });

  /**
   * A tenant with one uploaded clip, the playlists named, and the groups named (ids by name).
   * Groups are rows written straight to the database: this server is built without the fleet plane.
   */
  async function setUp(playlistNames: string[], groupNames: string[] = []) {
    const tenant: TestTenant = await app.createTenant(`defaults-${++tenants}`);
    const editor = app.client(ScheduleService, tenant.tokens.editor);
    const { video } = await app
      .client(ContentService, tenant.tokens.editor)
      .uploadVideo(uploadMessages(clip, { fileName: "loop.mp4" }));
    const playlists: Record<string, string> = {};
    for (const name of playlistNames) {
      const { playlist } = await editor.createPlaylist({ name, videoIds: [video?.id ?? ""] });
      playlists[name] = playlist?.id ?? "";
    }
    const em = app.db.orm.em.fork();
    const groups: Record<string, string> = {};
    for (const name of groupNames) {
      groups[name] = em.create(Group, { id: randomUUID(), tenant: tenant.id, name }).id;
    }
    await em.flush();
    return { tenant, editor, playlists, groups };
  }

  beforeAll(async () => {
    [app, clips] = await Promise.all([startTestApp(), createClipFactory()]);
    clip = await clips.video("loop.mp4", { seconds: 1.5 });
  });
  afterAll(async () => {
    await app?.close();
    await clips?.remove();
  });

  it("lists nothing while no default is set", async () => {
    const { editor } = await setUp(["Daytime"], ["Lobby"]);
    expect((await editor.listDefaultPlaylists({})).defaults).toEqual([]);
  });

  it("lists the tenant default first, then each group's by group name, with current names", async () => {
    const { editor, playlists, groups } = await setUp(["Daytime", "Menu"], ["Windows", "Lobby", "Kitchen"]);
    await editor.setDefaultPlaylist({ target: group(groups.Windows ?? ""), playlistId: playlists.Menu });
    await editor.setDefaultPlaylist({ target: everyScreen, playlistId: playlists.Daytime });
    await editor.setDefaultPlaylist({ target: group(groups.Lobby ?? ""), playlistId: playlists.Daytime });

    const { defaults } = await editor.listDefaultPlaylists({});
    expect(defaults).toEqual(
      [
        { target: everyScreen, playlistId: playlists.Daytime, playlistName: "Daytime", groupName: "" },
        {
          target: group(groups.Lobby ?? ""),
          playlistId: playlists.Daytime,
          playlistName: "Daytime",
          groupName: "Lobby",
        },
        { target: group(groups.Windows ?? ""), playlistId: playlists.Menu, playlistName: "Menu", groupName: "Windows" },
      ].map((init) => create(DefaultPlaylistSchema, init)),
    );

    // A renamed playlist shows its new name: names are read, not copied when the default is set.
    const { playlist } = await editor.getPlaylist({ id: playlists.Menu ?? "" });
    await editor.updatePlaylist({
      id: playlist?.id ?? "",
      etag: playlist?.etag ?? "",
      name: "Menu boards",
      videoIds: playlist?.videoIds ?? [],
    });
    const after = await editor.listDefaultPlaylists({});
    expect(after.defaults.at(-1)).toMatchObject({ groupName: "Windows", playlistName: "Menu boards" });
  });

  it("replaces a target's default instead of listing a second one", async () => {
    const { editor, playlists } = await setUp(["Daytime", "Night"]);
    await editor.setDefaultPlaylist({ target: everyScreen, playlistId: playlists.Daytime });
    await editor.setDefaultPlaylist({ target: everyScreen, playlistId: playlists.Night });
    const { defaults } = await editor.listDefaultPlaylists({});
    expect(defaults).toEqual([expect.objectContaining({ target: everyScreen, playlistName: "Night" })]);
  });

  it("drops a cleared default and a deleted group's default, keeping the others", async () => {
    const { editor, playlists, groups } = await setUp(["Daytime"], ["Lobby", "Windows"]);
    await editor.setDefaultPlaylist({ target: everyScreen, playlistId: playlists.Daytime });
    await editor.setDefaultPlaylist({ target: group(groups.Lobby ?? ""), playlistId: playlists.Daytime });
    await editor.setDefaultPlaylist({ target: group(groups.Windows ?? ""), playlistId: playlists.Daytime });

    await editor.setDefaultPlaylist({ target: everyScreen, playlistId: "" });
    await app.db.orm.em.fork().nativeDelete(Group, { id: groups.Windows ?? "" });
    const { defaults } = await editor.listDefaultPlaylists({});
    expect(defaults.map((d) => d.groupName)).toEqual(["Lobby"]);
  });

  it("does not show another tenant's defaults", async () => {
    const acme = await setUp(["Acme loop"], ["Acme lobby"]);
    const globex = await setUp(["Globex loop"]);
    await acme.editor.setDefaultPlaylist({ target: everyScreen, playlistId: acme.playlists["Acme loop"] });
    await acme.editor.setDefaultPlaylist({
      target: group(acme.groups["Acme lobby"] ?? ""),
      playlistId: acme.playlists["Acme loop"],
    });
    expect((await globex.editor.listDefaultPlaylists({})).defaults).toEqual([]);

    await globex.editor.setDefaultPlaylist({ target: everyScreen, playlistId: globex.playlists["Globex loop"] });
    expect((await globex.editor.listDefaultPlaylists({})).defaults.map((d) => d.playlistName)).toEqual(["Globex loop"]);
    expect((await acme.editor.listDefaultPlaylists({})).defaults.map((d) => d.playlistName)).toEqual([
      "Acme loop",
      "Acme loop",
    ]);
    // Neither another tenant's playlist nor its group can become a default here.
    await expect(
      globex.editor.setDefaultPlaylist({ target: everyScreen, playlistId: acme.playlists["Acme loop"] }),
    ).rejects.toMatchObject({ code: Code.NotFound, rawMessage: expect.stringMatching(/does not exist/) });
    await expect(
      globex.editor.setDefaultPlaylist({
        target: group(acme.groups["Acme lobby"] ?? ""),
        playlistId: globex.playlists["Globex loop"],
      }),
    ).rejects.toMatchObject({ code: Code.NotFound, rawMessage: expect.stringMatching(/does not exist/) });
  });

  it("lets a viewer read the defaults but not set them", async () => {
    const { tenant, editor, playlists } = await setUp(["Daytime"]);
    await editor.setDefaultPlaylist({ target: everyScreen, playlistId: playlists.Daytime });
    const viewer = app.client(ScheduleService, tenant.tokens.viewer);
    expect((await viewer.listDefaultPlaylists({})).defaults).toEqual([
      expect.objectContaining({ target: everyScreen, playlistId: playlists.Daytime, playlistName: "Daytime" }),
    ]);
    await expect(viewer.setDefaultPlaylist({ target: everyScreen, playlistId: "" })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    await expect(app.client(ScheduleService).listDefaultPlaylists({})).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it("refuses a tag target and an unknown playlist, saying what is allowed", async () => {
    const { editor } = await setUp(["Daytime"]);
    await expect(
      editor.setDefaultPlaylist({ target: { kind: { case: "tag", value: "lobby" } }, playlistId: "" }),
    ).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "target must be one of: group_id, whole_tenant",
    });
    const ghost = randomUUID();
    await expect(editor.setDefaultPlaylist({ target: everyScreen, playlistId: ghost })).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: `playlist ${ghost} does not exist`,
    });
    expect((await editor.listDefaultPlaylists({})).defaults).toEqual([]);
  });
});
