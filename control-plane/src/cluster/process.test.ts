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
});
