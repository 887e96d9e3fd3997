import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readImageVersion, requestFileRebooter } from "./system.ts";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "avtech-system-"));
  await mkdir(join(root, "etc/avtech"), { recursive: true });
  await mkdir(join(root, "usr/lib"), { recursive: true });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("readImageVersion", () => {
  it("reads AVTECH_OS_VERSION of /etc/avtech/os-release, which every root the role builds carries", async () => {
    await writeFile(
      join(root, "etc/avtech/os-release"),
      "AVTECH_OS_VERSION=2026.12.1\nAVTECH_RAUC_COMPATIBLE=avtech-rpi-arm64-debian\n",
    );
    await writeFile(join(root, "etc/os-release"), 'PRETTY_NAME="Debian GNU/Linux 12"\nIMAGE_VERSION=old\n');
    expect(await readImageVersion(root)).toBe("2026.12.1");
  });

  it("falls back to os-release's IMAGE_VERSION, quoted or not, /etc before /usr/lib", async () => {
    await writeFile(join(root, "usr/lib/os-release"), "IMAGE_VERSION=from-usr-lib\n");
    expect(await readImageVersion(root)).toBe("from-usr-lib");
    await writeFile(join(root, "etc/os-release"), 'ID=debian\nIMAGE_VERSION="1.2 beta"\n');
    expect(await readImageVersion(root)).toBe("1.2 beta");
  });

  it("is empty on a development machine with neither", async () => {
    await writeFile(join(root, "etc/os-release"), "ID=debian\n");
    expect(await readImageVersion(root)).toBe("");
  });
});

describe("requestFileRebooter", () => {
  it("asks for a reboot by creating the request file, and creating it again is harmless", async () => {
    const requestFile = join(root, "reboot-requested");
    await requestFileRebooter(requestFile).reboot();
    await requestFileRebooter(requestFile).reboot();
    expect(await readdir(root)).toContain("reboot-requested");
  });

  it("fails with the reason when the data folder is not writable", async () => {
    await expect(requestFileRebooter(join(root, "missing", "reboot-requested")).reboot()).rejects.toThrow(/ENOENT/);
  });
});
