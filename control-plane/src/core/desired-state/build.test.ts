import { Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ruleRecord, samplePlaylists } from "../../../test/lib/desired-state-records.ts";
import { buildDesiredState, type DesiredStateSources, diffDesiredStates, stampVersion } from "./build.ts";

const sha = (c: string) => c.repeat(64);
const playlists = samplePlaylists();
const rule = ruleRecord;
const sources = (overrides: Partial<DesiredStateSources> = {}): DesiredStateSources => ({
  screen: {
    id: "s1",
    name: "Lobby left",
    groupId: "g-lobby",
    tags: ["ground-floor"],
    timezone: "Europe/Madrid",
    volumePercent: 0,
    orientation: Orientation.LANDSCAPE,
    displayHours: [],
  },
  rules: [
    rule("r-group", { target: { kind: "group", groupId: "g-lobby" }, playlistId: "p-lobby" }),
    rule("r-tag", { target: { kind: "tag", tag: "ground-floor" }, playlistId: "p-menu", priority: 2 }),
    rule("r-other-screen", { target: { kind: "screen", screenId: "s2" }, playlistId: "p-menu" }),
    rule("r-disabled", { enabled: false, playlistId: "p-menu" }),
  ],
  defaults: [
    { target: { kind: "tenant" }, playlistId: "p-menu" },
    { target: { kind: "group", groupId: "g-lobby" }, playlistId: "p-default" },
  ],
  playlists,
  assetUrl: (sha256) => `/assets/${sha256}`,
  ...overrides,
});

describe("buildDesiredState", () => {
  it("keeps only enabled rules that target the screen, with the playlists and assets they need", () => {
    const state = buildDesiredState(sources());
    expect(state.rules.map((r) => r.id)).toEqual(["r-group", "r-tag"]);
    expect(state.playlists.map((p) => p.id)).toEqual(["p-default", "p-lobby", "p-menu"]);
    expect(state.assets.map((a) => a.sha256)).toEqual([sha("a"), sha("b"), sha("c"), sha("d")]);
    expect(state.assets[0]?.url).toBe(`/assets/${sha("a")}`);
    expect(state.settings?.timezone).toBe("Europe/Madrid");
    expect(state.settings?.screenName).toBe("Lobby left");
  });

  it("prefers the group's default playlist over the tenant's", () => {
    expect(buildDesiredState(sources()).defaultPlaylistId).toBe("p-default");
    expect(
      buildDesiredState(sources({ defaults: [{ target: { kind: "tenant" }, playlistId: "p-menu" }] }))
        .defaultPlaylistId,
    ).toBe("p-menu");
  });

  it("gives equal content an equal hash whatever the input order, version or build time", () => {
    const a = buildDesiredState(sources());
    const b = buildDesiredState(sources({ rules: [...sources().rules].reverse() }));
    expect(b.contentHash).toBe(a.contentHash);
    expect(a.contentHash).toMatch(/^[0-9a-f]{64}$/);
    const stamped = stampVersion(a, 7n, timestampFromDate(new Date()));
    expect(stamped.version).toBe(7n);
    expect(stamped.contentHash).toBe(a.contentHash);
  });

  it("changes the hash when anything a screen plays changes", () => {
    const base = buildDesiredState(sources()).contentHash;
    const renamed = buildDesiredState(sources({ screen: { ...sources().screen, name: "Lobby right" } })).contentHash;
    const reprioritised = buildDesiredState(
      sources({ rules: [rule("r-group", { target: { kind: "group", groupId: "g-lobby" }, priority: 5 })] }),
    ).contentHash;
    expect(new Set([base, renamed, reprioritised]).size).toBe(3);
  });
});

describe("diffDesiredStates", () => {
  it("reports added and removed assets and what kind of change it is", () => {
    const before = buildDesiredState(sources({ rules: [rule("r", { playlistId: "p-lobby" })], defaults: [] }));
    const after = buildDesiredState(sources({ rules: [rule("r", { playlistId: "p-menu" })], defaults: [] }));
    expect(diffDesiredStates(before, after)).toEqual({
      changed: true,
      addedAssetSha256s: [sha("c")],
      removedAssetSha256s: [sha("a"), sha("b")],
      rulesChanged: true,
      settingsChanged: false,
    });
    expect(diffDesiredStates(after, after).changed).toBe(false);
    expect(diffDesiredStates(undefined, after)).toMatchObject({
      changed: true,
      addedAssetSha256s: [sha("c")],
      settingsChanged: true,
    });
  });
});
