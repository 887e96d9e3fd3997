import { useEffect, useState } from "react";
import { useApi } from "./api-context.tsx";

/**
 * Path of the endpoint that returns a video's bytes to a signed-in user (for previews):
 * `GET /v1/videos/<id>/file` with `authorization: Bearer <token>` (see console/README.md).
 */
export function videoFilePath(videoId: string): string {
  return `/v1/videos/${encodeURIComponent(videoId)}/file`;
}

/**
 * Fetches `path` with the session token and returns an object URL for it (or undefined while
 * loading or on failure). <img> and <video> cannot send an authorization header, and tokens in
 * URLs leak into logs, so media is fetched as a blob. The URL is revoked on unmount.
 */
export function useAuthorizedObjectUrl(path: string | undefined): string | undefined {
  const { baseUrl, tokens } = useApi();
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    if (!path) return;
    const controller = new AbortController();
    let objectUrl: string | undefined;
    const token = tokens.get();
    fetch(new URL(path, baseUrl), {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: controller.signal,
    })
      .then((res) => (res.ok ? res.blob() : undefined))
      .then((blob) => {
        if (!blob || controller.signal.aborted) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      })
      .catch(() => undefined);
    return () => {
      controller.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      setUrl(undefined);
    };
  }, [path, baseUrl, tokens]);
  return url;
}
