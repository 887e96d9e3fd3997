import { readFile } from "node:fs/promises";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import type { Clock, ProcessRunner } from "../lib/index.ts";
import type { Playback } from "../playback/types.ts";
import type { ClipBoundaries, Rebooter } from "./types.ts";

/**
 * The image's release from os-release's `IMAGE_VERSION=` (the systemd field for image-based
 * systems; the image build writes it). `/etc/os-release` first, then `/usr/lib/os-release`.
 * Empty when neither has it (a development machine).
 */
export async function readImageVersion(root = "/"): Promise<string> {
  const at = (p: string) => `${root.replace(/\/$/, "")}${p}`;
  for (const path of [at("/etc/os-release"), at("/usr/lib/os-release")]) {
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    const match = /^IMAGE_VERSION=(?:"([^"\n]*)"|'([^'\n]*)'|([^\s"']*))\s*$/m.exec(text);
    return (match?.[1] ?? match?.[2] ?? match?.[3] ?? "").trim();
  }
  return "";
}

/** Reboots with `systemctl reboot` (the `avtech` user needs polkit's login1 reboot right). */
export function systemctlRebooter(processes: ProcessRunner): Rebooter {
  return {
    async reboot() {
      const run = await processes.run("systemctl", ["reboot"]);
      if (run.code !== 0) throw new Error(`systemctl reboot failed (exit ${run.code}): ${run.stderr.trim()}`);
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
