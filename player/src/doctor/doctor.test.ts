import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/index.ts";
import { formatChecks, runDoctor } from "./index.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-doctor-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config(url: string) {
  return parseConfig(`control_plane_url = "${url}"\npairing = true\ndata_dir = "${dir}"\n`, "avtech.toml");
}

describe("runDoctor", () => {
  it("passes against a reachable server with a sane clock", async () => {
    const server = createServer((_req, res) => res.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const checks = await runDoctor(config(`http://localhost:${port}`), { drmDir: dir });
      expect(Object.fromEntries(checks.map((c) => [c.name, c.result]))).toEqual({
        config: "pass",
        dns: "pass",
        tcp: "pass",
        clock: "pass",
        display: "warn",
        disk: "pass",
      });
      expect(formatChecks(checks)).toMatch(/^ok +config/);
    } finally {
      server.close();
    }
  });

  it("fails with the fix when nothing listens", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const checks = await runDoctor(config(`http://127.0.0.1:${port}`), { drmDir: dir, timeoutMs: 1000 });
    expect(checks.find((c) => c.name === "tcp")).toMatchObject({
      result: "fail",
      detail: expect.stringMatching(/ECONNREFUSED/),
    });
  });
});
