import type { PlaylistRecord, RuleRecord } from "../../src/core/desired-state/index.ts";

/** A clip whose sha256 is `c` repeated (64 hex characters), 5 s, 1000 bytes. */
export const clipRecord = (c: string) => ({
  videoId: `v-${c}`,
  sha256: c.repeat(64),
  durationMs: 5000,
  sizeBytes: 1000n,
  contentType: "video/mp4",
});

/** Three playlists: Lobby (clips a, b), Menu (c) and Default (d). */
export const samplePlaylists = (): Map<string, PlaylistRecord> =>
  new Map([
    ["p-lobby", { id: "p-lobby", name: "Lobby", clips: [clipRecord("a"), clipRecord("b")] }],
    ["p-menu", { id: "p-menu", name: "Menu", clips: [clipRecord("c")] }],
    ["p-default", { id: "p-default", name: "Default", clips: [clipRecord("d")] }],
  ]);

/** An enabled whole-tenant rule playing Lobby every day at priority 0, with `fields` over it. */
export const ruleRecord = (id: string, fields: Partial<RuleRecord> = {}): RuleRecord => ({
  id,
  name: id,
  target: { kind: "tenant" },
  playlistId: "p-lobby",
  priority: 0,
  daysOfWeek: [],
  enabled: true,
  ...fields,
});
