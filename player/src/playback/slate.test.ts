import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CommandRunner, nodeCommandRunner } from "./process.ts";
import { createSlateRenderer, slateLines } from "./slate.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-slate-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("createSlateRenderer (real ffmpeg)", () => {
  it("renders a PNG once per distinct slate and reuses it", async () => {
    let runs = 0;
    const counting: CommandRunner = {
      run(command, args, options) {
        runs++;
        return nodeCommandRunner.run(command, args, options);
      },
    };
    const slates = createSlateRenderer({ dir, runner: counting, width: 320, height: 180 });
    // Characters that would need escaping inside a filter graph if passed as text=.
    const pairing = { kind: "pairing", pairingCode: "BC:DF,GH'JK", expiresAt: new Date() } as const;
    const [a, b] = await Promise.all([slates.render(pairing), slates.render(pairing)]);
    const again = await slates.render({ ...pairing, expiresAt: new Date(0) });
    const standby = await slates.render({ kind: "standby", screenName: "Lobby" });
    expect(a).toBe(b);
    expect(again).toBe(a);
    expect(standby).not.toBe(a);
    expect(runs).toBe(2);
    expect([...(await readFile(a)).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect((await readdir(dir)).filter((name) => name.includes(".tmp."))).toEqual([]);
  });

  it("keeps only the most recently used slates on disk", async () => {
    const slates = createSlateRenderer({ dir, runner: nodeCommandRunner, width: 160, height: 90, keep: 2 });
    const first = await slates.render({ kind: "connecting", message: "one" });
    const second = await slates.render({ kind: "connecting", message: "two" });
    await slates.render({ kind: "connecting", message: "one" });
    const third = await slates.render({ kind: "connecting", message: "three" });
    const pngs = (await readdir(dir)).filter((name) => name.endsWith(".png")).sort();
    expect(pngs).toEqual([first, third].map((path) => path.slice(dir.length + 1)).sort());
    expect(pngs).not.toContain(second.slice(dir.length + 1));
  });

  it("renders the display-off slate black", async () => {
    const slates = createSlateRenderer({ dir, runner: nodeCommandRunner, width: 160, height: 90 });
    const png = await slates.render({ kind: "display-off" });
    const { stdout } = await promisify(execFile)(
      "ffmpeg",
      ["-loglevel", "error", "-i", png, "-vf", "scale=1:1:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
      { encoding: "buffer" },
    );
    expect(stdout).toHaveLength(3);
    expect(stdout.reduce((sum, value) => sum + value, 0)).toBeLessThan(10);
  });

  it("fails with ffmpeg's reason when rendering fails", async () => {
    const slates = createSlateRenderer({ dir, runner: nodeCommandRunner, ffmpegPath: "/bin/false" });
    await expect(slates.render({ kind: "connecting", message: "x" })).rejects.toThrow(/\/bin\/false failed/);
  });
});

describe("slateLines", () => {
  it("puts the pairing code first, large", () => {
    expect(slateLines({ kind: "pairing", pairingCode: "BCDFGHJK", expiresAt: new Date() })[0]).toBe("BCDFGHJK");
  });
});
