import type { GetStorageUsageResponse } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { formatBytes, formatDuration } from "../ui/format.ts";

const videoExtensions = /\.(mp4|m4v|mov|mkv|webm|ts)$/i;

/**
 * Checks a file before any byte is sent: a video type, within the server's size limit and the
 * tenant's remaining quota. Returns a sentence saying what is wrong, or undefined when fine.
 * The server checks everything again; this only saves a pointless upload.
 */
export function precheckFile(
  file: { name: string; type: string; size: number },
  usage: GetStorageUsageResponse | undefined,
  reservedBytes: number,
): string | undefined {
  if (!file.type.startsWith("video/") && !videoExtensions.test(file.name)) {
    return `“${file.name}” is not a video file. Upload MP4, MOV, MKV or WebM clips.`;
  }
  if (file.size === 0) return "The file is empty.";
  if (!usage) return undefined;
  if (usage.maxUploadBytes > 0n && BigInt(file.size) > usage.maxUploadBytes) {
    return `The file is ${formatBytes(file.size)}; the largest accepted clip is ${formatBytes(usage.maxUploadBytes)}.`;
  }
  const free = Number(usage.quotaBytes - usage.usedBytes) - reservedBytes;
  if (usage.quotaBytes > 0n && file.size > free) {
    return `Not enough storage: the file needs ${formatBytes(file.size)} but only ${formatBytes(Math.max(0, free))} is left. Delete unused clips first.`;
  }
  return undefined;
}

/** Checks a duration read in the browser against the server's limits. */
export function precheckDuration(durationMs: number, usage: GetStorageUsageResponse | undefined): string | undefined {
  if (!usage || !Number.isFinite(durationMs)) return undefined;
  if (usage.minDurationMs > 0 && durationMs < usage.minDurationMs) {
    return `The clip lasts ${spoken(durationMs)}; clips must last at least ${spoken(usage.minDurationMs)}.`;
  }
  if (usage.maxDurationMs > 0 && durationMs > usage.maxDurationMs) {
    return `The clip lasts ${spoken(durationMs)}; clips may last at most ${spoken(usage.maxDurationMs)}.`;
  }
  return undefined;
}

/** Short durations in seconds ("0.4 s", "12 s"); a minute or more as m:ss. */
function spoken(ms: number): string {
  if (ms >= 60_000) return formatDuration(ms);
  const seconds = ms / 1000;
  return `${seconds < 10 ? Number(seconds.toFixed(1)) : Math.round(seconds)} s`;
}
