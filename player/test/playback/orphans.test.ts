import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness, waitFor } from "./fixtures.ts";

/** True while `pid` runs (a zombie has exited: only its parent has not collected it yet). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

let runtimeDir: string;
let h: Harness | undefined;
beforeEach(async () => {
  runtimeDir = await mkdtemp(join(tmpdir(), "avtech-orphans-"));
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  await rm(runtimeDir, { recursive: true, force: true });
});

describe("no orphaned mpv (real processes)", { timeout: 15_000 }, () => {
  it("mpv quits when the player process is killed with SIGKILL", async () => {
    const player = spawn(process.execPath, [join(import.meta.dirname, "engine-process.ts"), runtimeDir], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, LOG_LEVEL: "silent" },
    });
    let out = "";
    player.stdout.setEncoding("utf8");
    player.stdout.on("data", (chunk: string) => {
      out += chunk;
    });
    await waitFor("the player to start mpv", () => out.includes("\n"), 10_000);
    const mpvPid = Number.parseInt(out, 10);
    expect(running(mpvPid)).toBe(true);
    player.kill("SIGKILL");
    await waitFor("mpv to quit after its player died", () => !running(mpvPid), 3_000);
  });

  it("kills a stale mpv named in the pidfile at start", async () => {
    const stale = spawn("mpv", ["--idle=yes", "--vo=null", "--ao=null", "--no-terminal", "--config=no"], {
      stdio: "ignore",
    });
    const stalePid = stale.pid as number;
    try {
      await writeFile(join(runtimeDir, "mpv.pid"), `${stalePid}\n`);
      await waitFor("the stale mpv to run", () => running(stalePid));
      h = await startHarness({ runtimeDir });
      await waitFor("the stale mpv to be killed", () => !running(stalePid), 3_000);
      expect(h.readyPid()).not.toBe(stalePid);
    } finally {
      stale.kill("SIGKILL");
    }
  });
});
