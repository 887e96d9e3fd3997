import { type LocalDate, LocalDateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import {
  type DefaultPlaylist as DefaultPlaylistMessage,
  DefaultPlaylistSchema as DefaultPlaylistMessageSchema,
  type Playlist as PlaylistMessage,
  PlaylistSchema as PlaylistMessageSchema,
  type Rule,
  RuleSchema,
  type Target,
  TargetSchema,
} from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { DefaultPlaylist, Playlist, ScheduleRule, TargetKind } from "../../platform/db/entities.ts";

/** A playlist with its clips (video id + duration) in order. */
export interface PlaylistWithItems {
  playlist: Playlist;
  items: { videoId: string; durationMs: number }[];
}

/** A playlist on the wire; the etag is its version. */
export function playlistToProto({ playlist, items }: PlaylistWithItems): PlaylistMessage {
  return create(PlaylistMessageSchema, {
    id: playlist.id,
    name: playlist.name,
    videoIds: items.map((i) => i.videoId),
    totalDurationMs: BigInt(items.reduce((sum, i) => sum + i.durationMs, 0)),
    etag: String(playlist.version),
    updatedAt: timestampFromDate(playlist.updatedAt),
  });
}

/** "YYYY-MM-DD" ↔ LocalDate. */
export function dateToString(date: LocalDate | undefined): string | null {
  if (!date) return null;
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  return `${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`;
}

/** Parses a stored "YYYY-MM-DD". */
export function dateFromString(value: string | null | undefined): LocalDate | undefined {
  if (!value) return undefined;
  const [year, month, day] = value.split("-").map(Number);
  return create(LocalDateSchema, { year: year ?? 0, month: month ?? 0, day: day ?? 0 });
}

/** The stored target columns as the wire's oneof. */
export function targetToProto(kind: TargetKind, value: string): Target {
  switch (kind) {
    case "screen":
      return create(TargetSchema, { kind: { case: "screenId", value } });
    case "group":
      return create(TargetSchema, { kind: { case: "groupId", value } });
    case "tag":
      return create(TargetSchema, { kind: { case: "tag", value } });
    case "tenant":
      return create(TargetSchema, { kind: { case: "wholeTenant", value: true } });
  }
}

/** A rule row on the wire; the etag is its version. */
export function ruleToProto(rule: ScheduleRule): Rule {
  return create(RuleSchema, {
    id: rule.id,
    name: rule.name,
    target: targetToProto(rule.targetKind, rule.targetValue),
    playlistId: rule.playlist.id,
    priority: rule.priority,
    startDate: dateFromString(rule.startDate),
    endDate: dateFromString(rule.endDate),
    daysOfWeek: [...rule.daysOfWeek],
    window:
      rule.windowStartMinute === null || rule.windowStartMinute === undefined
        ? undefined
        : { startMinute: rule.windowStartMinute, endMinute: rule.windowEndMinute ?? 1440 },
    enabled: rule.enabled,
    etag: String(rule.version),
  });
}

/**
 * A default playlist row on the wire, with the playlist's and group's current names; `playlist`
 * and `group` must be populated.
 */
export function defaultPlaylistToProto(row: DefaultPlaylist): DefaultPlaylistMessage {
  const group = row.group;
  return create(DefaultPlaylistMessageSchema, {
    target: group ? targetToProto("group", group.id) : targetToProto("tenant", ""),
    playlistId: row.playlist.id,
    playlistName: row.playlist.name,
    groupName: group?.name ?? "",
  });
}

/** The audit snapshot of a rule. */
export function ruleSnapshot(rule: ScheduleRule): Record<string, unknown> {
  return {
    name: rule.name,
    target: `${rule.targetKind}:${rule.targetValue}`,
    playlistId: rule.playlist.id,
    priority: rule.priority,
    startDate: rule.startDate,
    endDate: rule.endDate,
    daysOfWeek: rule.daysOfWeek,
    window: [rule.windowStartMinute, rule.windowEndMinute],
    enabled: rule.enabled,
    version: rule.version,
  };
}
