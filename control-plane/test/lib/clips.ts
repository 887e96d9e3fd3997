import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A folder of clips generated with ffmpeg for one test file. */
export interface ClipFactory {
  /** An H.264 MP4 of lavfi testsrc; generated once per name. */
  video(name: string, options: { seconds: number; size?: string; fps?: number; frames?: number }): Promise<string>;
  /** An AAC-in-MP4 file with no video stream. */
  audioOnly(name: string, seconds: number): Promise<string>;
  /** Path for a hand-made file in the folder. */
  path(name: string): string;
  remove(): Promise<void>;
}

/** Creates a temp folder for clips; call remove() in afterAll. */
export async function createClipFactory(): Promise<ClipFactory> {
  const dir = await mkdtemp(join(tmpdir(), "avtech-clips-"));
  const made = new Map<string, Promise<string>>();
  const once = (name: string, make: (out: string) => Promise<unknown>): Promise<string> => {
    let clip = made.get(name);
    if (!clip) {
      const out = join(dir, name);
      clip = make(out).then(() => out);
      made.set(name, clip);
    }
    return clip;
  };
  return {
    video(name, { seconds, size = "160x120", fps = 10, frames }) {
      return once(name, (out) =>
        run("ffmpeg", [
          "-v",
          "error",
          "-f",
          "lavfi",
          "-i",
          `testsrc=size=${size}:rate=${fps}:duration=${seconds}`,
          ...(frames ? ["-frames:v", String(frames)] : []),
          "-c:v",
          "libx264",
          "-preset",
          "ultrafast",
          "-pix_fmt",
          "yuv420p",
          "-movflags",
          "+faststart",
          out,
        ]),
      );
    },
    audioOnly(name, seconds) {
      return once(name, (out) =>
        run("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", `sine=duration=${seconds}`, "-c:a", "aac", out]),
      );
    },
    path: (name) => join(dir, name),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
