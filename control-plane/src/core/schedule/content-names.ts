import type { MikroORM } from "@mikro-orm/postgresql";
import { Playlist, Video } from "../../platform/db/entities.ts";
import { isUuid } from "../../platform/validation.ts";

/**
 * The names of a tenant's videos and playlists, for the fleet's reports (src/fleet/report), which
 * count plays by video and playlist id but must not read the core's tables themselves. Declared
 * here with its implementation, like PublishSources, because the core never imports the fleet.
 */
export interface ContentNames {
  /** Name by id of the tenant's videos among `ids`; deleted and foreign ids are absent. */
  videoNames(tenantId: string, ids: readonly string[]): Promise<Map<string, string>>;
  /** Name by id of the tenant's playlists among `ids`; deleted and foreign ids are absent. */
  playlistNames(tenantId: string, ids: readonly string[]): Promise<Map<string, string>>;
}

/** {@link ContentNames} on the core's entities: one query per call, a fresh EntityManager each time. */
export function createDbContentNames(orm: MikroORM): ContentNames {
  return {
    async videoNames(tenantId, ids) {
      const wanted = ids.filter(isUuid);
      if (wanted.length === 0 || !isUuid(tenantId)) return new Map();
      const videos = await orm.em.fork().find(Video, { tenant: tenantId, id: { $in: wanted } }, { fields: ["name"] });
      return new Map(videos.map((video) => [video.id, video.name]));
    },
    async playlistNames(tenantId, ids) {
      const wanted = ids.filter(isUuid);
      if (wanted.length === 0 || !isUuid(tenantId)) return new Map();
      const playlists = await orm.em
        .fork()
        .find(Playlist, { tenant: tenantId, id: { $in: wanted } }, { fields: ["name"] });
      return new Map(playlists.map((playlist) => [playlist.id, playlist.name]));
    },
  };
}
