import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import {
  createMpvPlayback,
  type MpvPlayback,
  type MpvPlaybackOptions,
  type PlaybackDiagnostic,
  type PlayItem,
  type PlayPlan,
  type PlayRecord,
} from "../../src/playback/index.ts";

const run = promisify(execFile);

/** Renders `count` small H.264 clips (160x120, 25 fps, a label and frame counter burnt in). */
export async function makeClips(dir: string, prefix: string, count: number, seconds: number): Promise<PlayItem[]> {
  const items: PlayItem[] = [];
  for (let i = 0; i < count; i++) {
    const path = join(dir, `${prefix}${i}.mp4`);
    await run("ffmpeg", [
      ...["-loglevel", "error", "-y", "-f", "lavfi"],
      ...["-i", `testsrc=size=160x120:rate=25:duration=${seconds}`],
      ...["-vf", `drawtext=text='${prefix}${i} %{frame_num}':fontsize=18:fontcolor=white:x=4:y=4`],
      ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path],
    ]);
    const sha = createHash("sha256")
      .update(await readFile(path))
      .digest("hex");
    items.push({ path, assetSha256: sha, videoId: `${prefix}${i}`, durationMs: seconds * 1000 });
  }
  return items;
}

/** Resolves when `predicate` holds, polling every 20 ms; rejects after `timeoutMs` naming `what`. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A real engine on real mpv (no video or audio output) plus everything it reported. */
export interface Harness {
  playback: MpvPlayback;
  diagnostics: PlaybackDiagnostic[];
  records: PlayRecord[];
  runtimeDir: string;
  /** mpv events of process `pid` (or all) named `name`. */
  events(name: string, pid?: number): Extract<PlaybackDiagnostic, { kind: "mpv-event" }>[];
  /** The pid of the mpv that is ready now. */
  readyPid(): number | undefined;
  close(): Promise<void>;
}

/** Starts an engine with `--vo=null --ao=null` and small slates; `close` removes its runtime dir. */
export async function startHarness(overrides: Partial<MpvPlaybackOptions> = {}): Promise<Harness> {
  const runtimeDir = overrides.runtimeDir ?? (await mkdtemp(join(tmpdir(), "avtech-playback-")));
  const diagnostics: PlaybackDiagnostic[] = [];
  const records: PlayRecord[] = [];
  const playback = createMpvPlayback({
    extraArgs: ["--vo=null", "--ao=null"],
    logger: pino({ level: process.env.LOG_LEVEL ?? "silent" }),
    slateSize: { width: 320, height: 180 },
    ...overrides,
    runtimeDir,
    onDiagnostic: (d) => diagnostics.push(d),
  });
  playback.onPlayRecord((r) => records.push(r));
  await playback.start(AbortSignal.timeout(10_000));
  return {
    playback,
    diagnostics,
    records,
    runtimeDir,
    events(name, pid) {
      return diagnostics.filter(
        (d): d is Extract<PlaybackDiagnostic, { kind: "mpv-event" }> =>
          d.kind === "mpv-event" && d.event.event === name && (pid === undefined || d.pid === pid),
      );
    },
    readyPid() {
      for (let i = diagnostics.length - 1; i >= 0; i--) {
        const d = diagnostics[i];
        if (d?.kind === "mpv-ready") return d.pid;
        if (d?.kind === "mpv-exited") return undefined;
      }
      return undefined;
    },
    async close() {
      await playback.stop();
      await rm(runtimeDir, { recursive: true, force: true });
    },
  };
}

/** A plan over `items`. */
export function plan(playlistId: string, items: PlayItem[]): PlayPlan {
  return { playlistId, ruleId: "", items };
}

/** The RGB of the pixel a quarter down the middle of a PNG (slate background), read back with ffmpeg. */
export async function upperPixel(png: string): Promise<[number, number, number]> {
  const { stdout } = await run(
    "ffmpeg",
    ["-loglevel", "error", "-i", png, "-vf", "crop=1:1:iw/2:ih/4", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
    { encoding: "buffer" },
  );
  return [stdout[0] ?? 0, stdout[1] ?? 0, stdout[2] ?? 0];
}

/** True when `pid` is a live process (not a zombie we already reaped). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The average RGB of every image in `dir` (e.g. frames written by `--vo=image`), in name order. */
export async function frameAverages(dir: string, pattern: string): Promise<[number, number, number][]> {
  const { stdout } = await run(
    "ffmpeg",
    [
      "-loglevel",
      "error",
      "-i",
      join(dir, pattern),
      "-vf",
      "scale=1:1:flags=area",
      "-f",
      "rawvideo",
      "-pix_fmt",
      "rgb24",
      "-",
    ],
    { encoding: "buffer", maxBuffer: 64 * 1024 * 1024 },
  );
  const frames: [number, number, number][] = [];
  for (let i = 0; i + 2 < stdout.length; i += 3) frames.push([stdout[i] ?? 0, stdout[i + 1] ?? 0, stdout[i + 2] ?? 0]);
  return frames;
}
