/** What shapes mpv's command line. */
export interface MpvArgsOptions {
  /** `--hwdec`; default "auto-safe". */
  hwdec?: string;
  /** `--audio-device`; default "auto". */
  audioDevice?: string;
  /** 0..100; default 100. */
  volume?: number;
  /** Clockwise degrees; default 0. */
  rotation?: 0 | 90 | 180 | 270;
  /** Appended last, so they override ours (e.g. `--vo=null --ao=null` in tests, `--vo=gpu --gpu-context=drm`). */
  extraArgs?: readonly string[];
}

/**
 * mpv's arguments for one long-lived instance (Debian 12's mpv 0.35 semantics). The IPC
 * argument is added by the spawner, which owns the file descriptor.
 */
export function mpvArgs(options: MpvArgsOptions = {}): string[] {
  return [
    // Ignore ~/.config/mpv: the screen must behave the same whoever set up the box.
    "--config=no",
    "--idle=yes",
    "--force-window=yes",
    "--fullscreen",
    "--no-osc",
    "--no-input-default-bindings",
    "--input-vo-keyboard=no",
    "--no-terminal",
    "--cursor-autohide=always",
    // Built-in Lua scripts a screen never uses; each costs a thread and start-up time.
    "--ytdl=no",
    "--load-stats-overlay=no",
    "--load-osd-console=no",
    "--load-auto-profiles=no",
    // Slates are still images that must stay up until replaced.
    "--keep-open=yes",
    "--image-display-duration=inf",
    // Gapless: the next clip is opened while the current one plays. The default differs across
    // mpv versions, so it is set explicitly.
    "--prefetch-playlist=yes",
    "--gapless-audio=yes",
    // `inf`, not N: a counted loop is miscounted together with prefetch in mpv before 2025.
    "--loop-playlist=inf",
    `--hwdec=${options.hwdec ?? "auto-safe"}`,
    `--audio-device=${options.audioDevice ?? "auto"}`,
    `--volume=${options.volume ?? 100}`,
    `--video-rotate=${options.rotation ?? 0}`,
    ...(options.extraArgs ?? []),
  ];
}
