import {
  type DesiredState,
  DesiredStateSchema,
  ScheduleRuleSchema,
  type ScreenSettingsSchema,
} from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";

/** A clip for {@link desiredState}. */
export interface ClipSpec {
  sha256: string;
  sizeBytes: number;
  url: string;
}

/** Options of {@link desiredState}. */
export interface StateSpec {
  version: number;
  /** Playlist id → clips. */
  playlists: Record<string, ClipSpec[]>;
  defaultPlaylistId?: string;
  rules?: MessageInitShape<typeof ScheduleRuleSchema>[];
  timezone?: string;
  /** Merged over the defaults (time zone from `timezone`, "Lobby", volume 80). */
  settings?: MessageInitShape<typeof ScreenSettingsSchema>;
}

/** Builds a consistent DesiredState (content hash derived from the spec). */
export function desiredState(spec: StateSpec): DesiredState {
  const assets = new Map<string, ClipSpec>();
  for (const clips of Object.values(spec.playlists)) for (const clip of clips) assets.set(clip.sha256, clip);
  return create(DesiredStateSchema, {
    screenId: "screen-1",
    version: BigInt(spec.version),
    contentHash: `hash-${spec.version}`,
    settings: { timezone: spec.timezone ?? "UTC", screenName: "Lobby", volumePercent: 80, ...spec.settings },
    rules: (spec.rules ?? []).map((r) => create(ScheduleRuleSchema, r)),
    playlists: Object.entries(spec.playlists).map(([id, clips]) => ({
      id,
      name: id,
      items: clips.map((c, i) => ({ assetSha256: c.sha256, durationMs: 5000, videoId: `video-${i}` })),
    })),
    defaultPlaylistId: spec.defaultPlaylistId ?? Object.keys(spec.playlists)[0] ?? "",
    assets: [...assets.values()].map((a) => ({
      sha256: a.sha256,
      sizeBytes: BigInt(a.sizeBytes),
      url: a.url,
      contentType: "video/mp4",
    })),
  });
}
