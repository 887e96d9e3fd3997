import type { PlaybackStatus } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";

/** One clip to play: a verified file in the media cache. */
export interface PlayItem {
  /** Absolute path of the verified file. */
  path: string;
  assetSha256: string;
  videoId: string;
  durationMs: number;
}

/** What to play: a playlist looped until the next plan. */
export interface PlayPlan {
  playlistId: string;
  /** Empty when the default playlist plays. */
  ruleId: string;
  /** Never empty. */
  items: PlayItem[];
}

/** What to show when there is nothing to play: never a black screen or a desktop. */
export type Slate =
  | { kind: "standby"; screenName: string }
  | { kind: "pairing"; pairingCode: string; expiresAt: Date }
  | { kind: "connecting"; message: string }
  /** Outside the screen's display hours: black, so a display that cannot be powered off shows nothing. */
  | { kind: "display-off" };

/**
 * Audio and picture settings of the running output, from the desired state's screen settings.
 * An unset field means the engine's configured default (the config's `[mpv] volume` and
 * `display_rotation`).
 */
export interface OutputSettings {
  /** 0..100. */
  volumePercent?: number;
  /** Clockwise degrees. */
  rotation?: 0 | 90 | 180 | 270;
}

/** A proof-of-play record produced by playback. */
export interface PlayRecord {
  assetSha256: string;
  videoId: string;
  playlistId: string;
  ruleId: string;
  startedAt: Date;
  endedAt: Date;
  completed: boolean;
}

/**
 * The player's playback engine (mpv over JSON IPC, supervised). The reconciler and the schedule
 * timer call it; it owns mpv's lifecycle, watchdogs and restarts.
 */
export interface Playback {
  /**
   * Starts mpv and its supervision; resolves when mpv answers on IPC, or after the engine's start
   * timeout if it does not (supervision keeps restarting it and status() shows RECOVERING), so the
   * player still comes up and reports the failure. Rejects when `signal` aborts first.
   */
  start(signal?: AbortSignal): Promise<void>;
  /** Stops supervision and mpv. */
  stop(): Promise<void>;
  /**
   * Plays `plan` in a loop. If something is playing, the switch happens at the next clip
   * boundary (the current clip finishes); from a slate it starts at once. Idempotent: the same
   * plan again changes nothing.
   */
  play(plan: PlayPlan): Promise<void>;
  /** Shows a slate instead of video (at once). */
  showSlate(slate: Slate): Promise<void>;
  /**
   * Applies volume and rotation to the running output without a restart; they are kept and
   * restored after any restart. Idempotent. Never fails because the output is restarting.
   */
  setOutput(settings: OutputSettings): Promise<void>;
  /** Overlays `text` (e.g. the screen name) for `seconds` without interrupting playback. */
  identify(text: string, seconds: number): Promise<void>;
  /** Writes a PNG of what is on screen to `path`. */
  screenshot(path: string): Promise<void>;
  /** What plays now, for heartbeats. */
  status(): PlaybackStatus;
  /** True while mpv answers IPC and, when it should play, time-pos advances. Gate for the systemd watchdog. */
  healthy(): boolean;
  /** Subscribes to proof-of-play records; returns an unsubscribe function. */
  onPlayRecord(listener: (record: PlayRecord) => void): () => void;
}
