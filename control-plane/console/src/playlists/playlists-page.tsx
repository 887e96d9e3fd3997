import { ContentService, type Video } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { type Playlist, ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { canEdit } from "../api/session.ts";
import { formatDuration } from "../ui/format.ts";
import { Select } from "../ui/select.tsx";
import { Preview } from "./preview.tsx";
import { moveItem } from "./reorder.ts";

/** Playlists: pick one on the left, edit its clips (drag or up/down buttons), preview, save. */
export function PlaylistsPage() {
  const { principal } = useApi();
  const playlists = useQuery(ScheduleService.method.listPlaylists, {});
  const videos = useQuery(ContentService.method.listVideos, { pageSize: 1000 });
  const [selected, setSelected] = useState<string>();
  const videoById = useMemo(() => new Map(videos.data?.videos.map((v) => [v.id, v])), [videos.data]);
  const current = playlists.data?.playlists.find((p) => p.id === selected);
  const editor = canEdit(principal);

  return (
    <section aria-labelledby="playlists-title">
      <div className="page-head">
        <h1 id="playlists-title">Playlists</h1>
        {editor && (
          <button type="button" className="primary" onClick={() => setSelected("new")}>
            New playlist
          </button>
        )}
      </div>
      <div className="split">
        <ul className="side-list" aria-label="Playlists">
          {playlists.data?.playlists.map((p) => (
            <li key={p.id}>
              <button
                type="button"
                className={`side-item ${p.id === selected ? "selected" : ""}`}
                aria-pressed={p.id === selected}
                onClick={() => setSelected(p.id)}
              >
                <span className="ellipsis">{p.name}</span>
                <span className="muted small">
                  {p.videoIds.length} clips · {formatDuration(p.totalDurationMs)}
                </span>
              </button>
            </li>
          ))}
          {playlists.data?.playlists.length === 0 && <li className="muted">No playlists yet.</li>}
        </ul>
        {selected && (selected === "new" || current) ? (
          <PlaylistEditor
            key={current ? `${current.id}:${current.etag}` : "new"}
            playlist={current}
            videoById={videoById}
            videos={videos.data?.videos ?? []}
            editor={editor}
            onSaved={setSelected}
          />
        ) : (
          <p className="muted empty">Choose a playlist to see its clips.</p>
        )}
      </div>
    </section>
  );
}

function PlaylistEditor(props: {
  playlist: Playlist | undefined;
  videos: readonly Video[];
  videoById: ReadonlyMap<string, Video>;
  editor: boolean;
  onSaved: (id: string | undefined) => void;
}) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(props.playlist?.name ?? "");
  const [items, setItems] = useState<string[]>(() => [...(props.playlist?.videoIds ?? [])]);
  const [adding, setAdding] = useState("");
  const [dragFrom, setDragFrom] = useState<number>();
  const [previewing, setPreviewing] = useState(false);
  const done = { onSuccess: () => queryClient.invalidateQueries() };
  const create = useMutation(ScheduleService.method.createPlaylist, done);
  const update = useMutation(ScheduleService.method.updatePlaylist, done);
  const remove = useMutation(ScheduleService.method.deletePlaylist, done);
  const error = create.error ?? update.error ?? remove.error;
  const totalMs = items.reduce((sum, id) => sum + (props.videoById.get(id)?.durationMs ?? 0), 0);
  const dirty = name !== (props.playlist?.name ?? "") || items.join() !== (props.playlist?.videoIds ?? []).join();

  const save = () => {
    if (props.playlist) {
      update.mutate({ id: props.playlist.id, etag: props.playlist.etag, name: name.trim(), videoIds: items });
    } else {
      create.mutate({ name: name.trim(), videoIds: items }, { onSuccess: (r) => props.onSaved(r.playlist?.id) });
    }
  };

  return (
    <div className="card editor">
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} readOnly={!props.editor} maxLength={200} />
      </label>
      <p className="muted">
        {items.length} clips · total <strong>{formatDuration(totalMs)}</strong>
      </p>
      <ol className="playlist-items" aria-label="Clips in play order">
        {items.map((id, index) => {
          const video = props.videoById.get(id);
          return (
            <li
              // biome-ignore lint/suspicious/noArrayIndexKey: a clip may repeat; its position is its identity.
              key={`${id}-${index}`}
              className={`playlist-item ${dragFrom === index ? "dragging" : ""}`}
              draggable={props.editor}
              onDragStart={() => setDragFrom(index)}
              onDragOver={(e) => e.preventDefault()}
              onDrop={() => {
                if (dragFrom !== undefined) setItems((list) => moveItem(list, dragFrom, index));
                setDragFrom(undefined);
              }}
              onDragEnd={() => setDragFrom(undefined)}
            >
              {props.editor && (
                <span className="grip" aria-hidden="true">
                  ⠿
                </span>
              )}
              <span className="ellipsis grow">{video?.name ?? "Missing clip"}</span>
              <span className="muted num">{video ? formatDuration(video.durationMs) : "—"}</span>
              {props.editor && (
                <span className="button-row">
                  <button
                    type="button"
                    className="icon"
                    aria-label={`Move ${video?.name ?? "clip"} up`}
                    disabled={index === 0}
                    onClick={() => setItems((list) => moveItem(list, index, index - 1))}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    className="icon"
                    aria-label={`Move ${video?.name ?? "clip"} down`}
                    disabled={index === items.length - 1}
                    onClick={() => setItems((list) => moveItem(list, index, index + 1))}
                  >
                    ↓
                  </button>
                  <button
                    type="button"
                    className="icon"
                    aria-label={`Remove ${video?.name ?? "clip"}`}
                    onClick={() => setItems((list) => list.filter((_, i) => i !== index))}
                  >
                    ✕
                  </button>
                </span>
              )}
            </li>
          );
        })}
      </ol>
      {props.editor && (
        <div className="inline-form">
          <Select
            className="grow"
            label="Clip to add"
            hideLabel
            value={adding}
            empty="Add a clip…"
            choices={props.videos.map((v) => ({ value: v.id, label: `${v.name} (${formatDuration(v.durationMs)})` }))}
            onChange={setAdding}
          />
          <button
            type="button"
            disabled={!adding}
            onClick={() => {
              setItems((list) => [...list, adding]);
              setAdding("");
            }}
          >
            Add
          </button>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {describeError(error)}
        </p>
      )}
      <div className="actions">
        <button type="button" disabled={items.length === 0} onClick={() => setPreviewing((p) => !p)}>
          {previewing ? "Stop preview" : "Preview"}
        </button>
        {props.editor && props.playlist && (
          <button
            type="button"
            className="danger"
            onClick={() => {
              const p = props.playlist;
              if (p && window.confirm(`Delete the playlist “${p.name}”?`)) {
                remove.mutate({ id: p.id }, { onSuccess: () => props.onSaved(undefined) });
              }
            }}
          >
            Delete
          </button>
        )}
        {props.editor && (
          <button
            type="button"
            className="primary"
            disabled={!dirty || !name.trim() || items.length === 0 || create.isPending || update.isPending}
            onClick={save}
          >
            Save
          </button>
        )}
      </div>
      {previewing && <Preview videoIds={items} />}
    </div>
  );
}
