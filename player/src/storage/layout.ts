import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { isAtomicTempName } from "./atomic.ts";

/**
 * The version of the on-disk layout. A player that changes the meaning of any file bumps it and
 * migrates (or refetches) from the previous version, so old and new never read each other's files.
 */
export const layoutVersion = "v1";

/** Absolute paths of everything the player keeps on disk. */
export interface StateLayout {
  /** `<data_dir>/v1`: the folder of all state files. */
  readonly stateDir: string;
  /** The device credentials (mode 0600). */
  readonly tokenFile: string;
  /** The last good desired state (binary protobuf). */
  readonly lastGoodFile: string;
  /** Per-asset last-played times (json). */
  readonly playTimesFile: string;
  /** The proof-of-play buffer folder (one file per batch). */
  readonly playEventsDir: string;
  /** The status snapshot `avtech-player status` prints (json). */
  readonly statusFile: string;
  /** The OS update's folder: its state file and the bundle being downloaded (data partition, not the media quota). */
  readonly updateDir: string;
  /** `<media_dir>/v1`: verified assets named by their sha256, plus `<sha>.part` downloads. */
  readonly mediaDir: string;
  /**
   * `<data_dir>/reboot-requested`: the player has no right to reboot, so it creates this file and a root unit
   * (`avtech-reboot.path`, installed by the player role) removes it and reboots. Outside `v1`: it is an
   * interface with the OS, not player state.
   */
  readonly rebootRequestFile: string;
}

/** Computes the layout for a data folder and a media folder. */
export function stateLayout(dataDir: string, mediaRoot: string): StateLayout {
  const stateDir = join(dataDir, layoutVersion);
  return {
    stateDir,
    tokenFile: join(stateDir, "device-token.json"),
    lastGoodFile: join(stateDir, "last-good-state.binpb"),
    playTimesFile: join(stateDir, "play-times.json"),
    playEventsDir: join(stateDir, "play-events"),
    statusFile: join(stateDir, "status.json"),
    updateDir: join(stateDir, "update"),
    mediaDir: join(mediaRoot, layoutVersion),
    rebootRequestFile: join(dataDir, "reboot-requested"),
  };
}

/** Creates the folders of `layout` and deletes temp files a killed atomic write left behind. */
export async function prepareLayout(layout: StateLayout): Promise<void> {
  for (const dir of [layout.stateDir, layout.playEventsDir, layout.mediaDir]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  for (const dir of [layout.stateDir, layout.playEventsDir]) {
    for (const name of await readdir(dir)) {
      if (isAtomicTempName(name)) await rm(join(dir, name), { force: true });
    }
  }
}
