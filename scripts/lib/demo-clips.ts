import { execFile } from "node:child_process";
import { mkdir, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A demo clip on disk. */
export interface DemoClip {
  path: string;
  name: string;
  durationSeconds: number;
}

const clips = [
  { slug: "welcome", title: "Welcome to AVTech", colour: "0x1f4e79", seconds: 8 },
  { slug: "breakfast", title: "Breakfast until 11 am", colour: "0x7f6000", seconds: 6 },
  { slug: "lunch", title: "Lunch menu", colour: "0x38761d", seconds: 6 },
  { slug: "evening", title: "Evening specials", colour: "0x741b47", seconds: 6 },
  { slug: "news", title: "Company news", colour: "0x134f5c", seconds: 10 },
];

/**
 * Generates the demo's clips with ffmpeg (h264, 1280x720, 25 fps, a title and a running clock
 * so gaps and freezes are visible) into `folder`, once: existing files are reused.
 */
export async function ensureDemoClips(folder: string): Promise<DemoClip[]> {
  await mkdir(folder, { recursive: true });
  const result: DemoClip[] = [];
  for (const clip of clips) {
    const path = join(folder, `${clip.slug}.mp4`);
    if (!(await exists(path))) {
      const partial = `${path}.part.mp4`;
      const text = `drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf:text='${clip.title}':fontcolor=white:fontsize=64:x=(w-text_w)/2:y=(h-text_h)/2-40`;
      const clock =
        "drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf:text='%{pts\\:hms}':fontcolor=white@0.8:fontsize=40:x=(w-text_w)/2:y=(h/2)+40";
      await run("ffmpeg", [
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        `color=c=${clip.colour}:s=1280x720:r=25:d=${clip.seconds}`,
        "-vf",
        `${text},${clock}`,
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        partial,
      ]);
      await rename(partial, path);
    }
    result.push({ path, name: clip.title, durationSeconds: clip.seconds });
  }
  return result;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
