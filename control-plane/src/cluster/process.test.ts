import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startProcess } from "./process.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-process-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("startProcess", () => {
  it("logs the child's output to its file and stops it with SIGTERM", async () => {
    const logFile = join(dir, "child.log");
    const child = await startProcess(
      process.execPath,
      [
        "-e",
        "console.log('up'); process.on('SIGTERM', () => { console.log('bye'); process.exit(0); }); setInterval(() => {}, 1000);",
      ],
      { env: process.env, logFile },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await child.stop()).toEqual({ code: 0, signal: null });
    expect(child.running()).toBe(false);
    expect(await readFile(logFile, "utf8")).toBe("up\nbye\n");
  });

  it("kills a child that ignores SIGTERM once the grace is over, so nothing is left running", async () => {
    const child = await startProcess(
      process.execPath,
      ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);"],
      { env: process.env, logFile: join(dir, "stubborn.log") },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await child.stop(200)).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("rejects, naming the command, when it cannot be started", async () => {
    await expect(
      startProcess(join(dir, "no-such-haproxy"), [], { env: process.env, logFile: join(dir, "none.log") }),
    ).rejects.toThrow(/could not start .*no-such-haproxy/);
  });

  it("with parentDeathSignal, the kernel stops the child when its parent is killed with SIGKILL", async () => {
    const moduleUrl = new URL("./process.ts", import.meta.url).href;
    const script = `
      const { startProcess } = await import(${JSON.stringify(moduleUrl)});
      const child = await startProcess(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
        env: process.env, logFile: ${JSON.stringify(join(dir, "orphan.log"))}, parentDeathSignal: "SIGTERM",
      });
      console.log(child.pid);
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const pid = await new Promise<number>((resolve) =>
      parent.stdout.once("data", (chunk) => resolve(Number(String(chunk)))),
    );
    expect(alive(pid)).toBe(true);
    parent.kill("SIGKILL");
    const deadline = Date.now() + 5000;
    while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(alive(pid)).toBe(false);
  });
});

/** True while `pid` runs (a zombie waiting for its new parent to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
