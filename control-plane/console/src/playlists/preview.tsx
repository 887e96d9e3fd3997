import { useState } from "react";
import { useAuthorizedObjectUrl, videoFilePath } from "../api/media.ts";

/** Plays the clips in order in the browser, as a screen would (looping at the end). */
export function Preview({ videoIds }: { videoIds: readonly string[] }) {
  const [index, setIndex] = useState(0);
  const current = videoIds[index % Math.max(1, videoIds.length)];
  const url = useAuthorizedObjectUrl(current ? videoFilePath(current) : undefined);
  return (
    <div className="preview">
      <video
        src={url}
        autoPlay
        muted
        controls
        onEnded={() => setIndex((i) => (i + 1) % videoIds.length)}
        aria-label="Playlist preview"
      />
      <p className="muted small">
        Clip {(index % videoIds.length) + 1} of {videoIds.length}
        {url ? "" : " · loading…"}
      </p>
    </div>
  );
}
