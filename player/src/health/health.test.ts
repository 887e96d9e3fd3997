import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ProcessRunner } from "../lib/index.ts";
import { HealthSampler } from "./index.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-health-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pi: ProcessRunner = {
  async run(command) {
    if (command === "vcgencmd") return { code: 0, stdout: "throttled=0x50005\n", stderr: "" };
    if (command === "timedatectl") return { code: 0, stdout: "yes\n", stderr: "" };
    return { code: -1, stdout: "", stderr: "not found" };
  },
};
const bare: ProcessRunner = { run: async () => ({ code: -1, stdout: "", stderr: "ENOENT" }) };

describe("HealthSampler", () => {
  it("samples this machine and reads the Pi's tools and DRM connectors", async () => {
    await mkdir(join(dir, "card1-HDMI-A-1"));
    await writeFile(join(dir, "card1-HDMI-A-1", "status"), "connected\n");
    const health = await new HealthSampler({
      processes: pi,
      mediaDir: dir,
      mediaBytes: () => 1234,
      maxMediaBytes: 5000,
      drmDir: dir,
    }).sample();
    expect(health.memoryTotalBytes).toBeGreaterThan(0n);
    expect(health.diskTotalBytes).toBeGreaterThan(0n);
    expect(health.uptimeSeconds).toBeGreaterThan(0n);
    expect(health.playerRssBytes).toBeGreaterThan(0n);
    expect(health).toMatchObject({
      mediaBytes: 1234n,
      mediaQuotaBytes: 5000n,
      throttledFlags: 0x50005,
      clockSynced: true,
      displayConnected: true,
    });
  });

  it("reports zero and false where the tools and display are absent", async () => {
    const health = await new HealthSampler({
      processes: bare,
      mediaDir: dir,
      mediaBytes: () => 0,
      maxMediaBytes: 1,
      drmDir: join(dir, "none"),
    }).sample();
    expect(health).toMatchObject({ throttledFlags: 0, clockSynced: false, displayConnected: false });
  });
});
