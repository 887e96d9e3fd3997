import { Code, ConnectError } from "@connectrpc/connect";
import type { Config } from "../../platform/config/index.ts";
import type { ProbeInfo } from "./media.ts";

/** What the content checks need from the configuration. */
export type MediaLimits = Pick<
  Config["limits"],
  "minDurationMs" | "maxDurationMs" | "maxWidth" | "maxHeight" | "allowedCodecs"
>;

/** The facts of an accepted clip. */
export interface AcceptedMedia {
  durationMs: number;
  codec: string;
  width: number;
  height: number;
  contentType: string;
}

const containers: [RegExp, string][] = [
  [/(^|,)mp4(,|$)/, "video/mp4"],
  [/(^|,)matroska(,|$)/, "video/x-matroska"],
  [/(^|,)mpegts(,|$)/, "video/mp2t"],
];

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/**
 * Checks a probed file against the limits and says in words what is wrong: not a video, no
 * video stream, duration, codec, resolution or container out of range.
 */
export function acceptMedia(info: ProbeInfo | undefined, limits: MediaLimits): AcceptedMedia {
  if (!info) {
    throw invalid("the file is not a video that ffprobe can read (damaged, truncated or not a video at all)");
  }
  const video = info.videoStreams[0];
  if (!video) {
    throw invalid(
      info.audioStreams > 0
        ? "the file has only audio; upload a video (H.264 in MP4)"
        : "the file contains no video stream; upload a video (H.264 in MP4)",
    );
  }
  if (
    video.declaredFrames !== undefined &&
    video.readPackets !== undefined &&
    video.readPackets < video.declaredFrames
  ) {
    throw invalid(
      `the file is truncated: its header announces ${video.declaredFrames} frames but only ${video.readPackets} are present; upload the complete file`,
    );
  }
  const contentType = containers.find(([pattern]) => pattern.test(info.formatName))?.[1];
  if (!contentType) {
    throw invalid(`the container "${info.formatName}" is not supported; upload MP4, Matroska or MPEG-TS`);
  }
  const durationMs = info.durationMs ?? video.durationMs;
  if (durationMs === undefined) throw invalid("the video's duration cannot be determined; re-encode it");
  const min = limits.minDurationMs;
  const max = limits.maxDurationMs;
  if (durationMs < min || durationMs > max) {
    throw invalid(
      `the video is ${(durationMs / 1000).toFixed(2)} s long; clips must be ${min / 1000}–${max / 1000} s (inclusive)`,
    );
  }
  if (!limits.allowedCodecs.includes(video.codec)) {
    throw invalid(
      `the video codec is ${video.codec || "unknown"}; players decode only ${limits.allowedCodecs.join(", ")}`,
    );
  }
  if (video.width > limits.maxWidth || video.height > limits.maxHeight || video.width <= 0 || video.height <= 0) {
    throw invalid(`the video is ${video.width}x${video.height}; the maximum is ${limits.maxWidth}x${limits.maxHeight}`);
  }
  return { durationMs, codec: video.codec, width: video.width, height: video.height, contentType };
}
