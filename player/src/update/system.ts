import { readFile, writeFile } from "node:fs/promises";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import type { Clock } from "../lib/index.ts";
import type { Playback } from "../playback/types.ts";
import type { ClipBoundaries, Rebooter } from "./types.ts";

/**
 * The running root's OS release: `AVTECH_OS_VERSION=` of `/etc/avtech/os-release`, which the player role writes
 * into every root it builds (the image's slot A and every update bundle's root alike); otherwise os-release's
 * `IMAGE_VERSION=` (the systemd field for image-based systems), `/etc/os-release` first, then
 * `/usr/lib/os-release`. Empty when none has it (a development machine).
 */
export async function readImageVersion(root = "/"): Promise<string> {
  const at = (p: string) => `${root.replace(/\/$/, "")}${p}`;
  const sources = [
    { path: at("/etc/avtech/os-release"), key: "AVTECH_OS_VERSION" },
    { path: at("/etc/os-release"), key: "IMAGE_VERSION" },
    { path: at("/usr/lib/os-release"), key: "IMAGE_VERSION" },
  ];
  for (const { path, key } of sources) {
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    const value = envFileValue(text, key);
    if (value) return value;
  }
  return "";
}

/** The value of `KEY=value` (optionally quoted) in an os-release style file; empty when absent. */
function envFileValue(text: string, key: string): string {
  const match = new RegExp(`^${key}=(?:"([^"\\n]*)"|'([^'\\n]*)'|([^\\s"']*))\\s*$`, "m").exec(text);
  return (match?.[1] ?? match?.[2] ?? match?.[3] ?? "").trim();
}

/**
 * Asks for a reboot by creating `requestFile` (see StateLayout.rebootRequestFile): the player's user has no right
 * to reboot, and the root unit that watches the file removes it before rebooting, so a request is honoured once.
 */
export function requestFileRebooter(requestFile: string): Rebooter {
  return {
    async reboot() {
      await writeFile(requestFile, "", { mode: 0o644 });
    },
  };
}

/** Clip boundaries from playback's proof-of-play events: each record marks the end of a clip. */
export function playbackClipBoundaries(
  playback: Pick<Playback, "status" | "onPlayRecord">,
  clock: Clock,
): ClipBoundaries {
  return {
    next(maxWaitMs, signal) {
      return new Promise((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        if (playback.status().state !== PlaybackState.PLAYING) {
          resolve();
          return;
        }
        const done = () => {
          timer.cancel();
          unsubscribe();
          signal.removeEventListener("abort", onAbort);
        };
        const onAbort = () => {
          done();
          reject(signal.reason);
        };
        const unsubscribe = playback.onPlayRecord(() => {
          done();
          resolve();
        });
        const timer = clock.setTimeout(() => {
          done();
          resolve();
        }, maxWaitMs);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    },
  };
}

/** Playback states that count as "playing" for the health gate: content, or a slate shown by design. */
export function playingByDesign(playback: Pick<Playback, "status" | "healthy">): boolean {
  const state = playback.status().state;
  return (
    playback.healthy() &&
    (state === PlaybackState.PLAYING || state === PlaybackState.STANDBY || state === PlaybackState.DISPLAY_OFF)
  );
}
