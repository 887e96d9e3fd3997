import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/**
 * The folder for mpv's pidfile and the rendered slates of the player whose data is in `dataDir`: in the system's
 * temporary folder (a tmpfs on the device, private to the service), one per user and data folder. One shared name
 * let the first user's player own it, so another user's player could not write its slates there, and let two
 * players on one machine kill each other's mpv as "left over from a previous run".
 */
export function playbackRuntimeDir(dataDir: string, tempDir = tmpdir(), userId = process.getuid?.() ?? 0): string {
  const dataKey = createHash("sha256").update(resolve(dataDir)).digest("hex").slice(0, 12);
  return join(tempDir, `avtech-player-${userId}-${dataKey}`);
}
