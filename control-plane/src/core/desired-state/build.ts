import { createHash } from "node:crypto";
import {
  type DesiredState,
  DesiredStateSchema,
  type DisplayHours,
  type LocalDate,
  type Orientation,
  type TimeWindow,
} from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import type { OsUpdate } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { clone, create, toBinary } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";

/** Which screens a rule or default applies to. */
export type TargetSelector =
  | { kind: "screen"; screenId: string }
  | { kind: "group"; groupId: string }
  | { kind: "tag"; tag: string }
  | { kind: "tenant" };

/** The facts about a screen that targeting and settings need. */
export interface ScreenFacts {
  id: string;
  name: string;
  groupId: string;
  tags: readonly string[];
  timezone: string;
  volumePercent: number;
  orientation: Orientation;
  displayHours: readonly DisplayHours[];
}

/** A schedule rule as stored (drafts included); only enabled ones are published. */
export interface RuleRecord {
  id: string;
  name: string;
  target: TargetSelector;
  playlistId: string;
  priority: number;
  startDate?: LocalDate;
  endDate?: LocalDate;
  daysOfWeek: readonly number[];
  window?: TimeWindow;
  enabled: boolean;
}

/** One clip of a playlist with what the manifest needs about its file. */
export interface PlaylistClip {
  videoId: string;
  sha256: string;
  durationMs: number;
  sizeBytes: bigint;
  contentType: string;
}

/** A playlist with its clips in order. */
export interface PlaylistRecord {
  id: string;
  name: string;
  clips: readonly PlaylistClip[];
}

/** Everything needed to build one screen's document. */
export interface DesiredStateSources {
  screen: ScreenFacts;
  rules: readonly RuleRecord[];
  /** Defaults by target: a group default beats the tenant default. */
  defaults: ReadonlyArray<{ target: TargetSelector; playlistId: string }>;
  playlists: ReadonlyMap<string, PlaylistRecord>;
  /** URL (absolute or relative to the control plane) where a screen GETs an asset. */
  assetUrl: (sha256: string) => string;
  /** The OS update the screen is asked to install (a rollout offers it), if any. */
  osUpdate?: OsUpdate;
}

/** True when `target` selects `screen`. */
export function targetSelects(target: TargetSelector, screen: Pick<ScreenFacts, "id" | "groupId" | "tags">): boolean {
  switch (target.kind) {
    case "screen":
      return target.screenId === screen.id;
    case "group":
      return screen.groupId !== "" && target.groupId === screen.groupId;
    case "tag":
      return screen.tags.includes(target.tag);
    case "tenant":
      return true;
  }
}

/** The part of a document that depends on which rules and default apply, not on the screen itself. */
export interface SharedContent {
  rules: DesiredState["rules"];
  playlists: DesiredState["playlists"];
  defaultPlaylistId: string;
  assets: DesiredState["assets"];
}

/** What applies to a screen: the enabled rules that target it (sorted by id) and its default playlist. */
export interface Selection {
  rules: readonly RuleRecord[];
  defaultPlaylistId: string;
}

/** Selects the rules and the default playlist that apply to `sources.screen`. */
export function selectFor(sources: Omit<DesiredStateSources, "assetUrl">): Selection {
  const { screen } = sources;
  const rules = sources.rules
    .filter((rule) => rule.enabled && targetSelects(rule.target, screen) && sources.playlists.has(rule.playlistId))
    .sort((a, b) => a.id.localeCompare(b.id));
  return { rules, defaultPlaylistId: pickDefault(sources) };
}

/** The rules, playlists and asset manifest of a selection, sorted so equal content encodes equally. */
export function sharedContent(
  selection: Selection,
  sources: Pick<DesiredStateSources, "playlists" | "assetUrl">,
): SharedContent {
  const { rules, defaultPlaylistId } = selection;
  const playlistIds = new Set(rules.map((rule) => rule.playlistId));
  if (defaultPlaylistId) playlistIds.add(defaultPlaylistId);
  const playlists = [...playlistIds]
    .sort()
    .map((id) => sources.playlists.get(id))
    .filter((playlist): playlist is PlaylistRecord => playlist !== undefined && playlist.clips.length > 0);
  const assets = new Map<string, PlaylistClip>();
  for (const playlist of playlists) for (const clip of playlist.clips) assets.set(clip.sha256, clip);
  const content = create(DesiredStateSchema, {
    rules: rules.map((rule) => ({
      id: rule.id,
      name: rule.name,
      playlistId: rule.playlistId,
      priority: rule.priority,
      startDate: rule.startDate,
      endDate: rule.endDate,
      daysOfWeek: [...rule.daysOfWeek],
      window: rule.window,
    })),
    playlists: playlists.map((playlist) => ({
      id: playlist.id,
      name: playlist.name,
      items: playlist.clips.map((clip) => ({
        assetSha256: clip.sha256,
        durationMs: clip.durationMs,
        videoId: clip.videoId,
      })),
    })),
    defaultPlaylistId: defaultPlaylistId && playlists.some((p) => p.id === defaultPlaylistId) ? defaultPlaylistId : "",
    assets: [...assets.values()]
      .sort((a, b) => a.sha256.localeCompare(b.sha256))
      .map((clip) => ({
        sha256: clip.sha256,
        sizeBytes: clip.sizeBytes,
        url: sources.assetUrl(clip.sha256),
        contentType: clip.contentType,
      })),
  });
  return {
    rules: content.rules,
    playlists: content.playlists,
    defaultPlaylistId: content.defaultPlaylistId,
    assets: content.assets,
  };
}

/**
 * Builds the self-contained document for one screen: the enabled rules that target it, the
 * playlists they (and the default) name, the asset manifest and the screen's settings. Lists are
 * sorted so that equal content always gives an equal `content_hash`. `version` and
 * `generated_at` are left for the publisher to set.
 */
export function buildDesiredState(sources: DesiredStateSources): DesiredState {
  const { screen } = sources;
  const state = create(DesiredStateSchema, {
    screenId: screen.id,
    settings: {
      timezone: screen.timezone,
      volumePercent: screen.volumePercent,
      orientation: screen.orientation,
      displayHours: [...screen.displayHours],
      screenName: screen.name,
    },
    ...sharedContent(selectFor(sources), sources),
    osUpdate: sources.osUpdate,
  });
  state.contentHash = contentHash(state);
  return state;
}

function pickDefault(sources: Pick<DesiredStateSources, "screen" | "defaults">): string {
  const rank = (target: TargetSelector) =>
    target.kind === "screen" ? 3 : target.kind === "group" ? 2 : target.kind === "tag" ? 1 : 0;
  const applicable = sources.defaults
    .filter((entry) => targetSelects(entry.target, sources.screen))
    .sort((a, b) => rank(b.target) - rank(a.target));
  return applicable[0]?.playlistId ?? "";
}

/**
 * The lowercase hex sha256 of the document's content: the binary encoding with version,
 * generated_at and content_hash cleared (protobuf-es writes fields in number order, so equal
 * messages encode to equal bytes).
 */
export function contentHash(state: DesiredState): string {
  const content = clone(DesiredStateSchema, state);
  content.version = 0n;
  content.generatedAt = undefined;
  content.contentHash = "";
  return createHash("sha256").update(toBinary(DesiredStateSchema, content)).digest("hex");
}

/** What changes between two versions, for the console's publish preview. */
export interface DesiredStateDiff {
  changed: boolean;
  addedAssetSha256s: string[];
  removedAssetSha256s: string[];
  rulesChanged: boolean;
  settingsChanged: boolean;
}

/** Compares the previous document (if any) with the next one. */
export function diffDesiredStates(previous: DesiredState | undefined, next: DesiredState): DesiredStateDiff {
  const before = new Set(previous?.assets.map((asset) => asset.sha256) ?? []);
  const after = new Set(next.assets.map((asset) => asset.sha256));
  const encode = (state: DesiredState | undefined, pick: (s: DesiredState) => DesiredState) =>
    state ? Buffer.from(toBinary(DesiredStateSchema, pick(state))).toString("base64") : "";
  const onlyRules = (state: DesiredState) =>
    create(DesiredStateSchema, {
      rules: state.rules,
      playlists: state.playlists,
      defaultPlaylistId: state.defaultPlaylistId,
    });
  const onlySettings = (state: DesiredState) => create(DesiredStateSchema, { settings: state.settings });
  return {
    changed: previous?.contentHash !== next.contentHash,
    addedAssetSha256s: [...after].filter((sha) => !before.has(sha)),
    removedAssetSha256s: [...before].filter((sha) => !after.has(sha)),
    rulesChanged: encode(previous, onlyRules) !== encode(next, onlyRules),
    settingsChanged: encode(previous, onlySettings) !== encode(next, onlySettings),
  };
}

/** Stamps a built document with its version and build time. */
export function stampVersion(state: DesiredState, version: bigint, generatedAt: Timestamp): DesiredState {
  const stamped = clone(DesiredStateSchema, state);
  stamped.version = version;
  stamped.generatedAt = generatedAt;
  return stamped;
}
