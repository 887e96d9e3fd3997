import type { Video as VideoMessage } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { type ContentService, VideoSchema } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { FilterQuery } from "@mikro-orm/postgresql";
import { noteAudit } from "../../platform/audit/index.ts";
import { principalOf } from "../../platform/auth/principal.ts";
import type { Config } from "../../platform/config/index.ts";
import { PlaylistItem, Video } from "../../platform/db/entities.ts";
import type { ScopeFactory, TenantScope } from "../../platform/db/tenant-scope.ts";
import { requireId } from "../../platform/validation.ts";
import type { BlobStore } from "./blob-store.ts";
import { ingestUpload, lockSha, removeUnreferencedBlob, storageUsage } from "./ingest.ts";
import type { MediaTools } from "./media.ts";

/** Dependencies of {@link createContentService}. */
export interface ContentServiceDeps {
  scope: ScopeFactory;
  blobs: BlobStore;
  media: MediaTools;
  limits: Config["limits"];
  /** Told about every finished upload, for metrics. */
  onUpload?: (outcome: "stored" | "deduplicated" | "rejected", bytes: number) => void;
}

/** Path of a video's thumbnail on the HTTP side (same bearer auth as the API). */
export function thumbnailPath(videoId: string): string {
  return `/v1/videos/${videoId}/thumbnail.jpg`;
}

/** What the audit log keeps of a video as `before`/`after`, for UploadVideo and DeleteVideo on any door. */
export function videoSnapshot(video: Video): Record<string, unknown> {
  return { id: video.id, name: video.name, sha256: video.sha256, sizeBytes: video.sizeBytes };
}

/** A video row on the wire. */
export function videoToProto(video: Video, usedBy: readonly string[] = []): VideoMessage {
  return create(VideoSchema, {
    id: video.id,
    name: video.name,
    sha256: video.sha256,
    sizeBytes: BigInt(video.sizeBytes),
    durationMs: video.durationMs,
    codec: video.codec,
    width: video.width,
    height: video.height,
    originalName: video.originalName,
    createdAt: timestampFromDate(video.createdAt),
    createdBy: video.createdBy,
    usedByPlaylistIds: [...usedBy],
    thumbnailUrl: video.thumbnailSha256 ? thumbnailPath(video.id) : "",
    contentType: video.contentType,
  });
}

/** Playlist ids using each video (only playlists of the scope's tenant can contain its videos). */
async function playlistsUsing(scope: TenantScope, videoIds: readonly string[]): Promise<Map<string, string[]>> {
  const usage = new Map<string, string[]>();
  if (videoIds.length === 0) return usage;
  const items = await scope.em.find(
    PlaylistItem,
    { video: { $in: [...videoIds] }, playlist: { tenant: scope.tenantId } },
    { populate: ["playlist"], orderBy: { playlist: { name: "asc" } } },
  );
  for (const item of items) {
    const list = usage.get(item.video.id) ?? [];
    if (!list.includes(item.playlist.id)) list.push(item.playlist.id);
    usage.set(item.video.id, list);
  }
  return usage;
}

function decodePageToken(token: string): { createdAt: Date; id: string } | undefined {
  if (!token) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as [string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime()) || typeof id !== "string") throw new Error("bad token");
    return { createdAt, id };
  } catch {
    throw new ConnectError("page_token is not one this server issued; start again without it", Code.InvalidArgument);
  }
}

/** ContentService: upload, list, get, delete videos and report storage. */
export function createContentService(deps: ContentServiceDeps): ServiceImpl<typeof ContentService> {
  return {
    async uploadVideo(requests, context) {
      const scope = deps.scope(context);
      noteAudit(context, { subjectType: "video" });
      try {
        const result = await ingestUpload(deps, scope, principalOf(context), requests);
        noteAudit(context, { subjectId: result.video.id, after: videoSnapshot(result.video) });
        deps.onUpload?.(result.deduplicated ? "deduplicated" : "stored", result.video.sizeBytes);
        // A row created by this very call is in no playlist yet: only a deduplicated one can be.
        const usage = result.deduplicated
          ? await playlistsUsing(scope, [result.video.id])
          : new Map<string, string[]>();
        return {
          video: videoToProto(result.video, usage.get(result.video.id)),
          deduplicated: result.deduplicated,
        };
      } catch (error) {
        deps.onUpload?.("rejected", 0);
        throw error;
      }
    },

    async listVideos(req, context) {
      const scope = deps.scope(context);
      const pageSize = req.pageSize === 0 ? 100 : req.pageSize;
      if (pageSize > 1000) throw new ConnectError("page_size must be 1..1000", Code.InvalidArgument);
      const filter: FilterQuery<Video> = req.nameContains
        ? { name: { $ilike: `%${req.nameContains.replace(/[\\%_]/g, (c) => `\\${c}`)}%` } }
        : {};
      const after = decodePageToken(req.pageToken);
      const page: FilterQuery<Video> = after
        ? {
            $and: [
              filter,
              { $or: [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, id: { $lt: after.id } }] },
            ],
          }
        : filter;
      const [videos, total] = await Promise.all([
        scope.find(Video, page, { orderBy: [{ createdAt: "desc" }, { id: "desc" }], limit: pageSize + 1 }),
        scope.count(Video, filter),
      ]);
      const shown = videos.slice(0, pageSize);
      const usage = await playlistsUsing(
        scope,
        shown.map((v) => v.id),
      );
      const last = shown[shown.length - 1];
      return {
        videos: shown.map((v) => videoToProto(v, usage.get(v.id))),
        nextPageToken:
          videos.length > pageSize && last
            ? Buffer.from(JSON.stringify([last.createdAt.toISOString(), last.id])).toString("base64url")
            : "",
        totalCount: total,
      };
    },

    async getVideo(req, context) {
      const scope = deps.scope(context);
      const id = requireId(req.id, "id");
      const video = await scope.findOne(Video, { id });
      if (!video) throw new ConnectError(`video ${id} not found`, Code.NotFound);
      const usage = await playlistsUsing(scope, [id]);
      return { video: videoToProto(video, usage.get(id)) };
    },

    async deleteVideo(req, context) {
      const scope = deps.scope(context);
      const id = requireId(req.id, "id");
      noteAudit(context, { subjectType: "video", subjectId: id });
      const video = await scope.findOne(Video, { id });
      if (!video) throw new ConnectError(`video ${id} not found`, Code.NotFound);
      noteAudit(context, { before: videoSnapshot(video) });
      const items = await scope.em.find(PlaylistItem, { video: id }, { populate: ["playlist"] });
      if (items.length > 0) {
        const names = [...new Set(items.map((item) => `"${item.playlist.name}" (${item.playlist.id})`))];
        throw new ConnectError(
          `video "${video.name}" is used by playlist ${names.join(", ")}; remove it from them first`,
          Code.FailedPrecondition,
        );
      }
      const { sha256, thumbnailSha256 } = video;
      await scope.transactional(async (tx) => {
        await lockSha(tx.em, sha256);
        await tx.em.nativeDelete(Video, { id, tenant: tx.tenantId });
        const others = await tx.em.count(Video, { sha256 });
        // Under the sha lock: no upload can claim this blob between the count and the unlink.
        if (others === 0) await deps.blobs.delete(sha256);
      });
      if (thumbnailSha256) await removeUnreferencedBlob(scope.em.fork(), deps.blobs, thumbnailSha256);
      return {};
    },

    async getStorageUsage(_req, context) {
      const scope = deps.scope(context);
      const usage = await storageUsage(scope.em, scope.tenantId);
      return {
        usedBytes: BigInt(usage.usedBytes),
        quotaBytes: BigInt(usage.quotaBytes),
        videoCount: usage.count,
        maxUploadBytes: BigInt(deps.limits.maxUploadBytes),
        minDurationMs: deps.limits.minDurationMs,
        maxDurationMs: deps.limits.maxDurationMs,
      };
    },
  };
}
