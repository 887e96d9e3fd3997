import { TimeWindowSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/postgresql";
import {
  DefaultPlaylist,
  Playlist,
  PlaylistItem,
  ScheduleRule,
  type TargetKind,
  Video,
} from "../../platform/db/entities.ts";
import { decodeScreenSettings, type StoredSettings } from "../../platform/db/screen-settings.ts";
import type {
  DesiredStateSources,
  PlaylistRecord,
  RuleRecord,
  ScreenFacts,
  TargetSelector,
} from "../desired-state/index.ts";
import { dateFromString } from "./convert.ts";

/*
 * The two fleet ports on the core's tables. They are declared here, with what implements them,
 * rather than in the fleet's ports.ts, because the core never imports the fleet
 * (control-plane/README.md, "Source map"); src/fleet/fleet/ports.ts re-exports them beside the
 * other ports, so the fleet names them as before.
 */

/** What publishing needs about one tenant, in the desired-state module's input shapes. */
export interface TenantPublishSources {
  screens: ScreenFacts[];
  rules: RuleRecord[];
  defaults: DesiredStateSources["defaults"];
  playlists: ReadonlyMap<string, PlaylistRecord>;
}

/** Reads the published inputs (rules, playlists, defaults, screens) of a tenant. */
export interface PublishSources {
  forTenant(tenantId: string): Promise<TenantPublishSources>;
}

/** Which assets a tenant owns (the /assets handler refuses the others). */
export interface AssetCatalog {
  tenantHasAsset(tenantId: string, sha256: string): Promise<boolean>;
}

function selector(kind: TargetKind, value: string): TargetSelector {
  switch (kind) {
    case "screen":
      return { kind: "screen", screenId: value };
    case "group":
      return { kind: "group", groupId: value };
    case "tag":
      return { kind: "tag", tag: value };
    case "tenant":
      return { kind: "tenant" };
  }
}

/** A `screens` row as publishing reads it. */
interface ScreenRow {
  id: string;
  name: string;
  group_id: string | null;
  timezone: string;
  settings: StoredSettings | null;
}

/**
 * The publish inputs of a tenant read from the core tables (screens, rules, playlists with their
 * clips, defaults) in the desired-state module's shapes: the database side of the fleet port.
 */
export function createDbPublishSources(orm: MikroORM): PublishSources {
  return {
    async forTenant(tenantId): Promise<TenantPublishSources> {
      const em = orm.em.fork();
      const connection = em.getConnection();
      // Screens and tags are read as plain rows: a publish to a whole fleet reads thousands of them,
      // and hydrating that many entities cost more than the rest of the publish.
      const [screens, tags, rules, defaults, playlists, items] = await Promise.all([
        connection.execute<ScreenRow[]>(
          "SELECT id, name, group_id, timezone, settings FROM screens WHERE tenant_id = ? ORDER BY name",
          [tenantId],
        ),
        connection.execute<Array<{ screen_id: string; tag: string }>>(
          "SELECT screen_id, tag FROM screen_tags WHERE tenant_id = ?",
          [tenantId],
        ),
        em.find(ScheduleRule, { tenant: tenantId }, { orderBy: [{ priority: "desc" }, { id: "asc" }] }),
        em.find(DefaultPlaylist, { tenant: tenantId }),
        em.find(Playlist, { tenant: tenantId }),
        em.find(
          PlaylistItem,
          { playlist: { tenant: tenantId } },
          { populate: ["video"], orderBy: { position: "asc" } },
        ),
      ]);
      const tagsOf = new Map<string, string[]>();
      for (const { screen_id: screenId, tag } of tags) {
        const list = tagsOf.get(screenId);
        if (list) list.push(tag);
        else tagsOf.set(screenId, [tag]);
      }
      const clipsOf = new Map<string, PlaylistRecord["clips"][number][]>();
      for (const item of items) {
        const video: Video = item.video;
        const clips = clipsOf.get(item.playlist.id) ?? [];
        clips.push({
          videoId: video.id,
          sha256: video.sha256,
          durationMs: video.durationMs,
          sizeBytes: BigInt(video.sizeBytes),
          contentType: video.contentType,
        });
        clipsOf.set(item.playlist.id, clips);
      }
      return {
        screens: screens.map(
          (screen): ScreenFacts => ({
            id: screen.id,
            name: screen.name,
            groupId: screen.group_id ?? "",
            tags: tagsOf.get(screen.id) ?? [],
            timezone: screen.timezone,
            ...decodeScreenSettings(screen.settings),
          }),
        ),
        rules: rules.map(
          (rule): RuleRecord => ({
            id: rule.id,
            name: rule.name,
            target: selector(rule.targetKind, rule.targetValue),
            playlistId: rule.playlist.id,
            priority: rule.priority,
            startDate: dateFromString(rule.startDate),
            endDate: dateFromString(rule.endDate),
            daysOfWeek: rule.daysOfWeek,
            window:
              rule.windowStartMinute === null || rule.windowStartMinute === undefined
                ? undefined
                : create(TimeWindowSchema, {
                    startMinute: rule.windowStartMinute,
                    endMinute: rule.windowEndMinute ?? 1440,
                  }),
            enabled: rule.enabled,
          }),
        ),
        defaults: defaults.map((d) => ({
          target: d.group ? selector("group", d.group.id) : selector("tenant", ""),
          playlistId: d.playlist.id,
        })),
        playlists: new Map(
          playlists.map((p) => [
            p.id,
            { id: p.id, name: p.name, clips: clipsOf.get(p.id) ?? [] } satisfies PlaylistRecord,
          ]),
        ),
      };
    },
  };
}

/** Which assets a tenant owns, from the videos table (the asset download route's check). */
export function createDbAssetCatalog(orm: MikroORM): AssetCatalog {
  return {
    async tenantHasAsset(tenantId, sha256) {
      return (await orm.em.fork().count(Video, { tenant: tenantId, sha256 })) > 0;
    },
  };
}
