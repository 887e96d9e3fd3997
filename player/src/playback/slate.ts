import { createHash } from "node:crypto";
import { access, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CommandRunner } from "./process.ts";
import type { Slate } from "./types.ts";

/** Renders slates to PNG files that mpv shows as a still image. */
export interface SlateRenderer {
  /** Returns the path of a PNG for `slate`, rendering it only when not cached. */
  render(slate: Slate): Promise<string>;
}

/** Options of {@link createSlateRenderer}. */
export interface SlateRendererOptions {
  /** Where PNGs are cached (e.g. `<runtimeDir>/slates`). */
  dir: string;
  runner: CommandRunner;
  /** Default "ffmpeg". */
  ffmpegPath?: string;
  /** Output size; default 1920x1080 (mpv scales it to the screen). */
  width?: number;
  height?: number;
  /** How many recent slates stay cached; default 8. */
  keep?: number;
}

/** The lines a slate shows; the first is the headline. */
export function slateLines(slate: Slate): string[] {
  switch (slate.kind) {
    case "standby":
      return [slate.screenName || "AVTech", "Waiting for content"];
    case "pairing":
      return [slate.pairingCode, "Enter this code in the AVTech console to add this screen"];
    case "connecting":
      return ["AVTech", slate.message];
    case "display-off":
      return ["", "Display off (outside display hours)"];
  }
}

/** Background and text colours: the brand's blue, or black with dim text while the display is off. */
function slateColors(slate: Slate): { background: string; headline: string; detail: string } {
  return slate.kind === "display-off"
    ? { background: "black", headline: "0x202020", detail: "0x202020" }
    : { background: "0x14213d", headline: "white", detail: "0xfca311" };
}

/**
 * Renders with ffmpeg (lavfi `color` + `drawtext`), so no graphics stack beyond what plays video
 * is needed. Text goes through `textfile=` rather than `text=` so pairing codes and screen names
 * need no filter-graph escaping; ffmpeg runs inside `dir` so the graph names files relatively.
 * Files are named by a hash of their content: the same slate is rendered once. Only the `keep`
 * most recently used stay on disk, since pairing codes change every few minutes and the runtime
 * dir is usually a tmpfs (RAM).
 */
export function createSlateRenderer(options: SlateRendererOptions): SlateRenderer {
  const width = options.width ?? 1920;
  const height = options.height ?? 1080;
  const ffmpeg = options.ffmpegPath ?? "ffmpeg";
  const keep = options.keep ?? 8;
  const inFlight = new Map<string, Promise<string>>();
  /** Keys by last use, oldest first. */
  const recent: string[] = [];

  const touch = (key: string) => {
    const at = recent.indexOf(key);
    if (at >= 0) recent.splice(at, 1);
    recent.push(key);
    if (recent.length > keep) recent.shift();
  };

  /** Deletes files of slates that are no longer among the recent ones (also a previous run's). */
  const prune = async () => {
    const wanted = new Set(recent);
    for (const name of await readdir(options.dir)) {
      const key = name.slice(0, 16);
      if (!wanted.has(key) && !inFlight.has(key)) await rm(join(options.dir, name), { force: true });
    }
  };

  const renderUncached = async (
    key: string,
    lines: string[],
    colors: ReturnType<typeof slateColors>,
  ): Promise<string> => {
    const png = join(options.dir, `${key}.png`);
    try {
      await access(png);
      touch(key);
      return png;
    } catch {
      // Not cached yet: render below.
    }
    await mkdir(options.dir, { recursive: true });
    const [headline = "", ...rest] = lines;
    await writeFile(join(options.dir, `${key}-1.txt`), headline);
    await writeFile(join(options.dir, `${key}-2.txt`), rest.join("\n"));
    const big = Math.round(height / 8);
    const small = Math.round(height / 24);
    const graph = [
      `color=c=${colors.background}:s=${width}x${height}`,
      `drawtext=textfile=${key}-1.txt:fontcolor=${colors.headline}:fontsize=${big}:x=(w-text_w)/2:y=(h/2)-text_h`,
      `drawtext=textfile=${key}-2.txt:fontcolor=${colors.detail}:fontsize=${small}:x=(w-text_w)/2:y=(h/2)+${small}`,
    ].join(",");
    const tmp = `${key}.tmp.png`;
    await options.runner.run(ffmpeg, ["-loglevel", "error", "-y", "-f", "lavfi", "-i", graph, "-frames:v", "1", tmp], {
      cwd: options.dir,
    });
    // Rename so a crash mid-render never leaves a truncated PNG under the cache name.
    await rename(join(options.dir, tmp), png);
    touch(key);
    await prune();
    return png;
  };

  return {
    render(slate) {
      const lines = slateLines(slate);
      const colors = slateColors(slate);
      const key = createHash("sha256")
        .update(JSON.stringify({ lines, colors, width, height, v: 1 }))
        .digest("hex")
        .slice(0, 16);
      let job = inFlight.get(key);
      if (!job) {
        job = renderUncached(key, lines, colors).finally(() => inFlight.delete(key));
        inFlight.set(key, job);
      }
      return job;
    },
  };
}
