import type { GetStorageUsageResponse } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { useQueryClient } from "@tanstack/react-query";
import { type DragEvent, useCallback, useRef, useState } from "react";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { uploadVideo } from "../api/upload.ts";
import { formatBytes } from "../ui/format.ts";
import { precheckDuration, precheckFile } from "./precheck.ts";
import { readDurationMs } from "./read-duration.ts";

type UploadStatus = "checking" | "queued" | "uploading" | "done" | "failed";

interface UploadItem {
  key: number;
  file: File;
  status: UploadStatus;
  sent: number;
  message: string;
}

/** Two at a time: enough to fill the link, few enough that each bar moves. */
const parallelUploads = 2;

/** Drop zone + file picker with one progress bar per file and the server's verdict beside it. */
export function Uploads({ usage }: { usage: GetStorageUsageResponse | undefined }) {
  const { baseUrl, tokens } = useApi();
  const queryClient = useQueryClient();
  const [items, setItems] = useState<UploadItem[]>([]);
  const [dragging, setDragging] = useState(false);
  const nextKey = useRef(0);
  const active = useRef(0);
  const queue = useRef<UploadItem[]>([]);
  const inputRef = useRef<HTMLInputElement>(null);

  const update = useCallback((key: number, patch: Partial<UploadItem>) => {
    setItems((list) => list.map((i) => (i.key === key ? { ...i, ...patch } : i)));
  }, []);

  const pump = useCallback(() => {
    while (active.current < parallelUploads && queue.current.length > 0) {
      const item = queue.current.shift();
      if (!item) break;
      active.current++;
      update(item.key, { status: "uploading" });
      uploadVideo(item.file, {
        baseUrl,
        token: tokens.get(),
        onProgress: (sent) => update(item.key, { sent }),
      })
        .then((r) =>
          update(item.key, {
            status: "done",
            sent: item.file.size,
            message: r.deduplicated ? `Already in the library as “${r.video?.name}”` : "Uploaded",
          }),
        )
        .catch((err: unknown) => update(item.key, { status: "failed", message: describeError(err) }))
        .finally(() => {
          active.current--;
          void queryClient.invalidateQueries();
          pump();
        });
    }
  }, [baseUrl, tokens, update, queryClient]);

  const addFiles = async (files: File[]) => {
    const added = files.map((file) => ({
      key: nextKey.current++,
      file,
      status: "checking" as const,
      sent: 0,
      message: "Checking…",
    }));
    setItems((list) => [...added, ...list]);
    // Bytes already promised to earlier files of this batch count against the quota.
    let reserved = 0;
    for (const item of added) {
      let problem = precheckFile(item.file, usage, reserved);
      if (!problem) {
        const durationMs = await readDurationMs(item.file);
        if (durationMs !== undefined) problem = precheckDuration(durationMs, usage);
      }
      if (problem) {
        update(item.key, { status: "failed", message: problem });
        continue;
      }
      reserved += item.file.size;
      update(item.key, { status: "queued", message: "Waiting…" });
      queue.current.push(item);
      pump();
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    void addFiles([...e.dataTransfer.files]);
  };

  return (
    <div className="uploads">
      {/* biome-ignore lint/a11y/noStaticElementInteractions: dropping is a mouse shortcut; the "Choose files" button is the keyboard path. */}
      <div
        className={`dropzone ${dragging ? "dragging" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>Drop video clips here, or</p>
        <button type="button" className="primary" onClick={() => inputRef.current?.click()}>
          Choose files
        </button>
        <input
          ref={inputRef}
          className="visually-hidden"
          type="file"
          accept="video/*"
          multiple
          aria-label="Upload video files"
          onChange={(e) => {
            void addFiles([...(e.target.files ?? [])]);
            e.target.value = "";
          }}
        />
      </div>
      {items.length > 0 && (
        <ul className="upload-list" aria-label="Uploads">
          {items.map((i) => (
            <li key={i.key} className={`upload upload-${i.status}`}>
              <span className="upload-name ellipsis" title={i.file.name}>
                {i.file.name}
              </span>
              <span className="muted small num">{formatBytes(i.file.size)}</span>
              <progress
                max={i.file.size || 1}
                value={i.status === "failed" ? 0 : i.sent}
                aria-label={`Upload progress of ${i.file.name}`}
              />
              <span className={`upload-message ${i.status === "failed" ? "tone-text-bad" : ""}`} role="status">
                {i.status === "uploading" ? `${Math.floor((i.sent / (i.file.size || 1)) * 100)}%` : i.message}
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
