import { ContentService, type Video } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { useDeferredValue, useMemo, useState } from "react";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { useAuthorizedObjectUrl } from "../api/media.ts";
import { canEdit } from "../api/session.ts";
import { formatBytes, formatDateTime, formatDuration } from "../ui/format.ts";
import { StorageBar } from "./storage-bar.tsx";
import { Uploads } from "./uploads.tsx";

/** The video library: storage against quota, uploads, and every clip with where it is used. */
export function LibraryPage() {
  const { principal } = useApi();
  const [search, setSearch] = useState("");
  const nameContains = useDeferredValue(search.trim());
  const usage = useQuery(ContentService.method.getStorageUsage, {});
  const videos = useQuery(ContentService.method.listVideos, { pageSize: 1000, nameContains });
  const playlists = useQuery(ScheduleService.method.listPlaylists, {});
  const playlistNames = useMemo(() => new Map(playlists.data?.playlists.map((p) => [p.id, p.name])), [playlists.data]);
  const editor = canEdit(principal);

  return (
    <section aria-labelledby="library-title">
      <div className="page-head">
        <div>
          <h1 id="library-title">Library</h1>
          <p className="sub">{videos.data ? `${videos.data.totalCount} clips` : "Loading…"}</p>
        </div>
        <StorageBar usage={usage.data} />
      </div>
      {editor && <Uploads usage={usage.data} />}
      <search className="filters">
        <label className="grow">
          <span className="visually-hidden">Search clips</span>
          <input type="search" placeholder="Search clips" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
      </search>
      {videos.error && (
        <p className="error" role="alert">
          {describeError(videos.error)}
        </p>
      )}
      <ul className="video-grid" aria-label="Clips">
        {videos.data?.videos.map((v) => (
          <VideoCard key={v.id} video={v} editor={editor} playlistName={(id) => playlistNames.get(id) ?? id} />
        ))}
      </ul>
      {videos.data?.videos.length === 0 && <p className="empty">No clips yet.</p>}
    </section>
  );
}

function VideoCard({
  video,
  editor,
  playlistName,
}: {
  video: Video;
  editor: boolean;
  playlistName: (id: string) => string;
}) {
  const thumb = useAuthorizedObjectUrl(video.thumbnailUrl || undefined);
  const queryClient = useQueryClient();
  const del = useMutation(ContentService.method.deleteVideo, {
    onSuccess: () => queryClient.invalidateQueries(),
  });
  const used = video.usedByPlaylistIds;
  return (
    <li className="video-card">
      <div className="thumb" aria-hidden="true">
        {thumb ? <img src={thumb} alt="" /> : <span className="thumb-placeholder">▶</span>}
        <span className="thumb-duration">{formatDuration(video.durationMs)}</span>
      </div>
      <div className="video-body">
        <h3 className="ellipsis" title={video.name}>
          {video.name}
        </h3>
        <p className="muted small">
          {formatBytes(video.sizeBytes)} · {video.width}×{video.height} · {video.codec}
        </p>
        <p className="muted small" title={formatDateTime(video.createdAt)}>
          {used.length > 0 ? `Used in ${used.map(playlistName).join(", ")}` : "Not used in any playlist"}
        </p>
        {del.error && (
          <p className="error small" role="alert">
            {describeError(del.error)}
          </p>
        )}
        {editor && (
          <button
            type="button"
            className="danger small-button"
            disabled={del.isPending}
            aria-label={`Delete ${video.name}`}
            onClick={() => {
              if (window.confirm(`Delete “${video.name}”? This cannot be undone.`)) del.mutate({ id: video.id });
            }}
          >
            Delete
          </button>
        )}
      </div>
    </li>
  );
}
