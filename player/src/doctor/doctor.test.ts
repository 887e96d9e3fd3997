import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../config/index.ts";
import { type Rauc, RaucUnavailable } from "../update/index.ts";
import { formatChecks, runDoctor } from "./index.ts";

/** A machine without RAUC: `rauc status` fails. */
const noRauc: Rauc = {
  status: () => Promise.reject(new RaucUnavailable("cannot run rauc: spawn rauc ENOENT")),
  install: () => Promise.reject(new Error("not used")),
  markGood: () => Promise.reject(new Error("not used")),
  markActive: () => Promise.reject(new Error("not used")),
};

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
      const checks = await runDoctor(config(`http://localhost:${port}`), {
        drmDir: dir,
        rauc: noRauc,
        imageVersion: async () => "",
      });
      expect(Object.fromEntries(checks.map((c) => [c.name, c.result]))).toEqual({
        config: "pass",
        dns: "pass",
        tcp: "pass",
        clock: "pass",
        display: "warn",
        disk: "pass",
        os: "warn",
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
    const checks = await runDoctor(config(`http://127.0.0.1:${port}`), {
      drmDir: dir,
      timeoutMs: 1000,
      rauc: noRauc,
    });
    expect(checks.find((c) => c.name === "tcp")).toMatchObject({
      result: "fail",
      detail: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  it("names the booted slot, the next boot and each slot's release when RAUC answers", async () => {
    const rauc: Rauc = {
      ...noRauc,
      status: async () => ({
        compatible: "avtech-rpi",
        booted: "A",
        primary: "B",
        slots: [
          { name: "rootfs.0", class: "rootfs", bootname: "A", state: "booted", bootStatus: "good", bundleVersion: "" },
          {
            name: "rootfs.1",
            class: "rootfs",
            bootname: "B",
            state: "inactive",
            bootStatus: "bad",
            bundleVersion: "2026.12.2",
          },
        ],
      }),
    };
    const checks = await runDoctor(config("http://nonexistent.invalid"), {
      drmDir: dir,
      rauc,
      imageVersion: async () => "2026.12.1",
    });
    expect(checks.find((c) => c.name === "os")).toEqual({
      name: "os",
      result: "pass",
      detail: "image 2026.12.1 on slot A, next boot B; slots: A (booted) good, B bad 2026.12.2",
    });
  });

  it("warns that OS updates cannot install without RAUC", async () => {
    const checks = await runDoctor(config("http://nonexistent.invalid"), {
      drmDir: dir,
      rauc: noRauc,
      imageVersion: async () => "",
    });
    expect(checks.find((c) => c.name === "os")).toMatchObject({
      result: "warn",
      detail:
        "image unknown version; no usable RAUC (cannot run rauc: spawn rauc ENOENT): OS updates cannot install here",
    });
  });
});
