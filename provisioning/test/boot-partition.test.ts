import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseConfig } from "@avtech/player/config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBootPartition, processRunner, readBootFile, readPartitions } from "../src/bootpart/index.ts";
import { runCli } from "../src/cli/run.ts";
import { parseSystemSettings } from "../src/site/index.ts";

const run = promisify(execFile);
const assembleLib = join(import.meta.dirname, "../../image/lib/assemble.sh");
const commonLib = join(import.meta.dirname, "../../image/lib/common.sh");

let dir: string;
let image: string;

// A small disk image made by the image build's own assembly functions: FAT boot, ext4 root slots A and B, data.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-prov-"));
  image = join(dir, "disk.img");
  const script = `
    set -euo pipefail
    source "${commonLib}"; source "${assembleLib}"
    mkdir -p "$D/boot" "$D/root/etc" "$D/data"
    echo "arm_64bit=1" > "$D/boot/config.txt"
    echo "avtech" > "$D/root/etc/hostname"
    make_fat_partition "$D/boot" "$D/boot.img" 40 BOOT
    make_ext4_partition "$D/root" "$D/root.img" 8 ROOT_A
    make_ext4_partition "$D/root" "$D/root-b.img" 8 ROOT_B
    make_ext4_partition "$D/data" "$D/data.img" 8 DATA 1000:1000
    AVTECH_ROOT_SLOT_MIB=8 make_disk "$D/disk.img" "$D/boot.img" "$D/root.img" "$D/root-b.img" "$D/data.img"`;
  await run("bash", ["-c", script], { env: { ...process.env, D: dir } });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("write-config --image", () => {
  it("writes the site files into the image's boot partition, where the player's parser accepts them", async () => {
    const out: string[] = [];
    await runCli(
      [
        "write-config",
        "--image",
        image,
        "--url",
        "https://signage.example.com",
        "--enrollment-key",
        "ek_live_1234",
        "--timezone",
        "Europe/Madrid",
        "--hostname-pattern",
        "lobby-{serial}",
        "--wifi-ssid",
        "Shop WiFi",
        "--wifi-country",
        "ES",
      ],
      {
        out: (t) => out.push(t),
        env: { AVTECH_WIFI_PSK: "correct horse battery" },
        runner: processRunner,
        transport: () => {
          throw new Error("no network in this test");
        },
      },
    );
    expect(out.join("")).toContain("wrote avtech.toml, avtech-system.toml");

    const playerText = await readBootFile(image, "avtech.toml", processRunner);
    const config = parseConfig(playerText, "/boot/firmware/avtech.toml");
    expect(config.controlPlaneUrl).toBe("https://signage.example.com");
    expect(config.enrollment).toEqual({ kind: "enrollmentKey", key: "ek_live_1234" });
    expect(config.timezone).toBe("Europe/Madrid");

    const system = parseSystemSettings(await readBootFile(image, "avtech-system.toml", processRunner), "sys");
    expect(system.hostname).toBe("lobby-{serial}");
    expect(system.wifi).toEqual({ ssid: "Shop WiFi", psk: "correct horse battery", country: "ES" });

    // The firmware's files are untouched and the FAT is still consistent.
    expect(await readBootFile(image, "config.txt", processRunner)).toBe("arm_64bit=1\n");
    const boot = findBootPartition(await readPartitions(image));
    const { stdout } = await run(
      "bash",
      [
        "-c",
        `dd if="$I" of="$D/check.img" bs=1M iflag=skip_bytes,count_bytes skip=${boot.offsetBytes} count=${boot.sizeBytes} status=none && fsck.vfat -n "$D/check.img"`,
      ],
      { env: { ...process.env, I: image, D: dir } },
    );
    expect(stdout).toMatch(/check\.img: \d+ files/);
  });

  it("replaces the files on a second write (pairing instead of an enrollment key)", async () => {
    await runCli(["write-config", "--image", image, "--url", "https://signage.example.com"], {
      out: () => {},
      env: {},
      runner: processRunner,
      transport: () => {
        throw new Error("no network in this test");
      },
    });
    const config = parseConfig(await readBootFile(image, "avtech.toml", processRunner), "avtech.toml");
    expect(config.enrollment).toEqual({ kind: "pairing" });
  });
});
