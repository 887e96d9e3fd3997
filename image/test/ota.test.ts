/**
 * A/B updates, the fast checks: the U-Boot boot script and the boot state it shares with RAUC, RAUC's system.conf
 * from the player role, the boot state writer RAUC runs as fw_setenv, and `make update-bundle`'s bundle step on a
 * tiny root file system made here (signature, compatible, version, key rotation). What needs a booted system
 * (installing, falling back, a cut-off install) is in ota.full.test.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type UpdatePhaseName, type UpdateRecord, UpdateStore } from "@avtech/player/update";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageDir, recipe, renderRoleTemplate, roleDir, runProgram } from "./helpers.ts";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "avtech-ota-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The sections of an INI file (RAUC's system.conf) as maps. */
function ini(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section !== null) {
      current = new Map();
      sections.set(section[1] as string, current);
      continue;
    }
    const eq = line.indexOf("=");
    current.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return sections;
}

/** `NAME=value` lines of fw_printenv as a sorted list. */
const envLines = (stdout: string) => stdout.trim().split("\n").sort();

describe("the U-Boot boot script", () => {
  it("boot.scr is image/boot/boot.cmd as a U-Boot script image", async () => {
    const scr = join(work, "boot.scr");
    await recipe(`build_boot_script "$S" "$O"`, { S: join(imageDir, "boot/boot.cmd"), O: scr });
    const listed = await runProgram("dumpimage", ["-l", scr]);
    expect(listed.stdout).toMatch(/Image Type:\s+AArch64 Linux Script \(uncompressed\)/);
    const payload = join(work, "boot.scr.payload");
    expect((await runProgram("dumpimage", ["-T", "script", "-p", "0", "-o", payload, scr])).code).toBe(0);
    // A script image's payload is a table of script lengths (one, then a 0 end mark: 8 bytes) and the script.
    const body = (await readFile(payload)).subarray(8);
    expect(body.equals(await readFile(join(imageDir, "boot/boot.cmd")))).toBe(true);
  });

  it("keeps the boot state where libubootenv is told to find it, in the same format and size", async () => {
    const script = await readFile(join(imageDir, "boot/boot.cmd"), "utf8");
    const size = /^setenv avtech_env_size (0x[0-9a-f]+)$/m.exec(script)?.[1];
    expect(size).toBe("0x4000");
    // Only RAUC's three variables are imported, from rauc.env, else from its copy; both are written back.
    const imports = [
      ...script.matchAll(
        /load \$\{avtech_boot\} \$\{kernel_addr_r\} (\S+) && env import -c \$\{kernel_addr_r\} \$\{avtech_env_size\} (.+);/g,
      ),
    ];
    expect(imports.map((m) => [m[1], m[2]])).toEqual([
      ["rauc.env", "BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT"],
      ["rauc.env.bak", "BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT"],
    ]);
    expect([...script.matchAll(/^fatwrite .* (\S+) \$\{avtech_env_size\}$/gm)].map((m) => m[1])).toEqual([
      "rauc.env",
      "rauc.env.bak",
    ]);
    const device = (text: string) => text.split("\n").find((l) => l.trim() !== "" && !l.startsWith("#"));
    const primary = device(await readFile(join(roleDir, "files/ota/fw_env.config"), "utf8"));
    const copy = device(await readFile(join(roleDir, "files/ota/fw_env.bak.config"), "utf8"));
    expect(primary?.split(/\s+/)).toEqual(["/boot/firmware/rauc.env", "0x0000", size]);
    expect(copy?.split(/\s+/)).toEqual(["/boot/firmware/rauc.env.bak", "0x0000", size]);
    // The recipe writes the initial state in that size, readable by libubootenv's fw_printenv.
    const dir = join(work, "state");
    await mkdir(dir);
    await recipe(`make_boot_state "$D" A 3 0`, { D: dir });
    await writeFile(join(dir, "fw_env.config"), `${dir}/rauc.env 0x0000 ${size}\n`);
    const printed = await runProgram("fw_printenv", ["-c", join(dir, "fw_env.config")]);
    expect(envLines(printed.stdout)).toEqual(["BOOT_A_LEFT=3", "BOOT_B_LEFT=0", "BOOT_ORDER=A"]);
  });
});

describe("RAUC's system.conf from the player role", () => {
  const render = (vars: Record<string, unknown>) =>
    renderRoleTemplate("rauc-system.conf.j2", { avtech_player_rauc_compatible: "avtech-rpi-arm64-debian", ...vars });

  it("names the compatible, the U-Boot backend, verity bundles and both slots by PARTUUID", async () => {
    const conf = ini(await render({}));
    const compatible = await recipe("rauc_compatible", { AVTECH_ARCH: "arm64", AVTECH_PACKAGE_SOURCE: "debian" });
    expect(compatible.trim()).toBe("avtech-rpi-arm64-debian");
    expect(Object.fromEntries(conf.get("system") ?? [])).toEqual({
      compatible: "avtech-rpi-arm64-debian",
      bootloader: "uboot",
      "bundle-formats": "verity",
      "boot-attempts": "3",
      "boot-attempts-primary": "3",
      "data-directory": "/var/lib/avtech/rauc",
    });
    expect(conf.get("keyring")?.get("path")).toBe("/etc/rauc/keyring.pem");
    // The disk id the recipe gives the image's MBR.
    const disk = (await recipe("disk_id_hex")).trim();
    expect(disk).toBe("41565445");
    expect(Object.fromEntries(conf.get("slot.rootfs.0") ?? [])).toEqual({
      device: `/dev/disk/by-partuuid/${disk}-02`,
      type: "ext4",
      bootname: "A",
    });
    expect(Object.fromEntries(conf.get("slot.rootfs.1") ?? [])).toEqual({
      device: `/dev/disk/by-partuuid/${disk}-03`,
      type: "ext4",
      bootname: "B",
    });
    expect([...conf.keys()].filter((s) => s.startsWith("slot."))).toEqual(["slot.rootfs.0", "slot.rootfs.1"]);
  });

  it("is accepted by RAUC's own parser, which refuses a misspelt key", async () => {
    // RAUC makes its data directory when it loads the config: point it into the temp folder.
    const data = join(work, "rauc-data");
    const good = join(work, "system.conf");
    await writeFile(good, await render({ avtech_player_data_dir: data }));
    const keys = join(work, "conf-keys");
    await recipe(`ensure_dev_keys "$K"`, { K: keys });
    const bundle = await tinyBundle("conf", keys, "avtech-rpi-arm64-debian");
    const parsed = await runProgram("rauc", [`--conf=${good}`, `--keyring=${keys}/ca.cert.pem`, "info", bundle]);
    expect(parsed.stderr).toContain(`Using central status file ${data}/rauc/central.raucs`);
    expect(parsed.code, parsed.stderr).toBe(0);
    const bad = join(work, "system-bad.conf");
    await writeFile(bad, (await readFile(good, "utf8")).replace("bootname=B", "bootnmae=B"));
    const refused = await runProgram("rauc", [`--conf=${bad}`, `--keyring=${keys}/ca.cert.pem`, "info", bundle]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("Invalid key 'bootnmae' in group '[slot.rootfs.1]'");
  });
});

describe("the boot state writer RAUC runs as fw_printenv/fw_setenv", () => {
  it("reads the copy while rauc.env is torn, repairs it on the next write and keeps both equal", async () => {
    const dir = join(work, "bootenv");
    await mkdir(join(dir, "bin"), { recursive: true });
    await recipe(`make_boot_state "$D" A 3 0`, { D: dir });
    for (const name of ["fw_printenv", "fw_setenv"]) {
      await symlink(join(roleDir, "files/ota/avtech-bootenv"), join(dir, "bin", name));
    }
    await writeFile(join(dir, "p.config"), `${dir}/rauc.env 0x0000 0x4000\n`);
    await writeFile(join(dir, "c.config"), `# the copy\n${dir}/rauc.env.bak 0x0000 0x4000\n`);
    const env = { AVTECH_BOOTENV_CONFIG: join(dir, "p.config"), AVTECH_BOOTENV_COPY_CONFIG: join(dir, "c.config") };
    const run = (name: string, ...args: string[]) => runProgram(join(dir, "bin", name), args, env);
    const tear = async (file: string) => {
      const bytes = await readFile(join(dir, file));
      bytes.write("torn", 8);
      await writeFile(join(dir, file), bytes);
    };

    // What RAUC does on install into slot B: B first, 3 tries.
    expect((await run("fw_setenv", "BOOT_B_LEFT", "3")).code).toBe(0);
    expect((await run("fw_setenv", "BOOT_ORDER", "B A")).code).toBe(0);
    expect((await run("fw_printenv", "BOOT_ORDER")).stdout).toBe("BOOT_ORDER=B A\n");
    expect((await readFile(join(dir, "rauc.env"))).equals(await readFile(join(dir, "rauc.env.bak")))).toBe(true);

    await tear("rauc.env");
    expect((await runProgram("fw_printenv", ["-c", join(dir, "p.config")])).code).not.toBe(0);
    expect(envLines((await run("fw_printenv")).stdout)).toEqual(["BOOT_A_LEFT=3", "BOOT_B_LEFT=3", "BOOT_ORDER=B A"]);
    expect((await run("fw_setenv", "BOOT_B_LEFT", "2")).code).toBe(0);
    expect(envLines((await runProgram("fw_printenv", ["-c", join(dir, "p.config")])).stdout)).toEqual([
      "BOOT_A_LEFT=3",
      "BOOT_B_LEFT=2",
      "BOOT_ORDER=B A",
    ]);
    expect((await readFile(join(dir, "rauc.env"))).equals(await readFile(join(dir, "rauc.env.bak")))).toBe(true);

    await tear("rauc.env");
    await tear("rauc.env.bak");
    const neither = await run("fw_setenv", "BOOT_A_LEFT", "3");
    expect(neither.code).not.toBe(0);
    expect(neither.stderr).toContain("neither");
    expect((await run("fw_printenv")).code).not.toBe(0);
  });
});

describe("the backstop for a freshly updated slot whose player never starts (avtech-update-deadline)", () => {
  /** An update record as the player's own UpdateStore writes it. */
  const record = (phase: UpdatePhaseName, targetSlot: string): UpdateRecord => ({
    v: 1,
    rolloutId: "r1",
    releaseId: "rel1",
    version: "2.0.0",
    compatible: "avtech-rpi-arm64-debian",
    bundle: { sha256: "a".repeat(64), sizeBytes: 1000, url: "/bundles/x" },
    rebootPolicy: "now",
    phase,
    message: "",
    fromSlot: targetSlot === "A" ? "B" : "A",
    fromVersion: "1.0.0",
    targetSlot,
    installAttempts: 1,
    rebootAttempts: 1,
    activations: 0,
    bootId: "boot-1",
    failures: 0,
    updatedAt: "2026-12-06T22:00:00.000Z",
  });

  /** Runs the script on a state file and a kernel command line; says whether it asked systemd to reboot. */
  async function backstop(state: UpdateRecord | undefined, cmdline: string) {
    const dir = await mkdtemp(join(work, "deadline-"));
    await mkdir(join(dir, "bin"));
    await mkdir(join(dir, "v1/update"), { recursive: true });
    // systemctl as a recorder: the script's one action is `systemctl --no-block reboot`.
    await writeFile(
      join(dir, "bin/systemctl"),
      `#!/bin/sh
echo "$@" >> "${dir}/systemctl.log"
`,
    );
    await chmod(join(dir, "bin/systemctl"), 0o755);
    const statePath = join(dir, "v1/update/update.json");
    if (state !== undefined) await new UpdateStore(statePath).save(state);
    await writeFile(join(dir, "cmdline"), `${cmdline}\n`);
    const result = await runProgram(
      join(roleDir, "files/ota/avtech-update-deadline"),
      [statePath, join(dir, "cmdline")],
      {
        PATH: `${join(dir, "bin")}:${process.env.PATH}`,
      },
    );
    const calls = await readFile(join(dir, "systemctl.log"), "utf8").catch(() => "");
    return { ...result, calls };
  }

  const onA = "console=ttyAMA0 root=PARTUUID=41565445-02 rootwait ro rauc.slot=A";

  it("reboots when the booted slot is the update's target and the player never moved it past rebooting", async () => {
    const r = await backstop(record("rebooting", "A"), onA);
    expect(r.code).toBe(0);
    expect(r.calls).toBe("--no-block reboot\n");
    expect(r.stdout).toContain("slot A was booted for an update and no player took charge of it");
  });

  it.each([
    ["the old slot waiting for its reboot moment", record("rebooting", "B"), onA],
    ["the player running the health gate on the new slot", record("confirming", "A"), onA],
    ["a confirmed slot", record("healthy", "A"), onA],
    ["a rolled-back update", record("rolled-back", "A"), onA],
    ["no update at all", undefined, onA],
    ["a kernel command line without rauc.slot", record("rebooting", "A"), "console=ttyAMA0 ro"],
  ])("leaves %s alone", async (_what, state, cmdline) => {
    const r = await backstop(state, cmdline);
    expect(r.code).toBe(0);
    expect(r.calls).toBe("");
    expect(r.stdout).toContain("nothing to do");
  });
});

/** A bundle of a tiny ext4 signed with KEYS (random content: RAUC needs a squashfs bigger than one block). */
async function tinyBundle(name: string, keys: string, compatible: string, version = "1.0.0"): Promise<string> {
  const dir = join(work, `tiny-${name}`);
  await mkdir(join(dir, "tree/etc"), { recursive: true });
  await writeFile(join(dir, "tree/etc/noise"), randomBytes(200_000));
  await recipe(`truncate -s 8M "$D/root.img" && mkfs.ext4 -q -L ROOT_A -d "$D/tree" "$D/root.img"`, { D: dir });
  const out = join(dir, `${name}.raucb`);
  await recipe(
    `build_update_bundle "$D/root.img" "$O" "$C" "$V" "$K/signing.cert.pem" "$K/signing.key.pem" "$K/ca.cert.pem"`,
    { D: dir, O: out, C: compatible, V: version, K: keys, AVTECH_PACKAGE_SOURCE: "debian" },
  );
  return out;
}

describe("make update-bundle (the bundle stage)", () => {
  let keys: string;
  let out: string;
  let rootImg: string;
  beforeAll(async () => {
    keys = join(work, "keys/dev");
    out = join(work, "out");
    const parts = join(work, "parts");
    await mkdir(join(parts, "tree/etc"), { recursive: true });
    await mkdir(out);
    await writeFile(join(parts, "tree/etc/os-release"), "ID=avtech-test\n");
    await writeFile(join(parts, "tree/etc/noise"), randomBytes(200_000));
    rootImg = join(parts, "root.img");
    await recipe(`truncate -s 12M "$R" && mkfs.ext4 -q -L ROOT_A -d "$T" "$R"`, { R: rootImg, T: join(parts, "tree") });
    await rm(join(parts, "tree"), { recursive: true });
    const log = await recipe(`bundle_stage "$P" "$O"`, {
      P: parts,
      O: out,
      AVTECH_KEYS_DIR: keys,
      AVTECH_ARCH: "arm64",
      AVTECH_PACKAGE_SOURCE: "debian",
      AVTECH_VERSION: "1.2.3",
    });
    expect(log).toContain("bundle: avtech-1.2.3-debian-arm64.raucb (avtech-rpi-arm64-debian, version 1.2.3)");
  });

  it("makes a development CA and signing key on first use, private keys readable by their owner only", async () => {
    const mode = async (f: string) => (await runProgram("stat", ["-c", "%a", join(keys, f)])).stdout.trim();
    expect(await mode(".")).toBe("700");
    expect(await mode("ca.key.pem")).toBe("600");
    expect(await mode("signing.key.pem")).toBe("600");
    const verified = await runProgram("openssl", [
      "verify",
      "-CAfile",
      join(keys, "ca.cert.pem"),
      join(keys, "signing.cert.pem"),
    ]);
    expect(verified.stdout.trim()).toBe(`${join(keys, "signing.cert.pem")}: OK`);
    // The folder is gitignored: no key of it can be committed.
    const ignored = await runProgram("git", ["check-ignore", "-q", join(imageDir, "keys/dev/ca.key.pem")]);
    expect(ignored.code).toBe(0);
  });

  it("gives a verity bundle of the assembled root that rauc info accepts with the image's keyring", async () => {
    const bundle = join(out, "avtech-1.2.3-debian-arm64.raucb");
    const info = await runProgram("rauc", ["--keyring", join(keys, "ca.cert.pem"), "info", bundle]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/Bundle Format: \tverity/);
    expect(info.stderr).toContain(
      "Verified inline signature by 'O = AVTech development, CN = AVTech development update signing'",
    );
    const json = await runProgram("rauc", [
      "--keyring",
      join(keys, "ca.cert.pem"),
      "info",
      "--output-format=json",
      bundle,
    ]);
    const manifest = JSON.parse(json.stdout) as {
      compatible: string;
      version: string;
      images: Record<string, { filename: string; checksum: string; size: number }>[];
    };
    expect(manifest.compatible).toBe("avtech-rpi-arm64-debian");
    expect(manifest.version).toBe("1.2.3");
    // One image, for the rootfs slot class, and it is the assembled root file system byte for byte.
    const root = await readFile(rootImg);
    expect(manifest.images).toEqual([
      {
        rootfs: expect.objectContaining({
          filename: "rootfs.ext4",
          checksum: createHash("sha256").update(root).digest("hex"),
          size: root.length,
        }),
      },
    ]);
  });

  it("refuses a bundle signed by another CA's key, and accepts both during a key rotation", async () => {
    const other = join(work, "keys/other");
    await recipe(`ensure_dev_keys "$K"`, { K: other });
    const foreign = await tinyBundle("foreign", other, "avtech-rpi-arm64-debian");
    const refused = await runProgram("rauc", ["--keyring", join(keys, "ca.cert.pem"), "info", foreign]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("signature verification failed");
    // A keyring with both CAs (the rotation step: old and new trusted at once) accepts both signers.
    const both = join(work, "keyring-both.pem");
    await writeFile(
      both,
      (await readFile(join(keys, "ca.cert.pem"), "utf8")) + (await readFile(join(other, "ca.cert.pem"), "utf8")),
    );
    for (const bundle of [foreign, join(out, "avtech-1.2.3-debian-arm64.raucb")]) {
      const accepted = await runProgram("rauc", ["--keyring", both, "info", bundle]);
      expect(accepted.code, accepted.stderr).toBe(0);
    }
  });

  it("takes the version the root was assembled with, not the version of a later checkout", async () => {
    const parts = join(work, "parts-versioned");
    await mkdir(parts);
    await recipe(`cp "$R" "$P/root.img" && echo 2.0.0-assembled > "$P/root.version"`, { R: rootImg, P: parts });
    const log = await recipe(`bundle_stage "$P" "$O"`, {
      P: parts,
      O: out,
      AVTECH_KEYS_DIR: keys,
      AVTECH_ARCH: "arm64",
      AVTECH_PACKAGE_SOURCE: "debian",
      AVTECH_VERSION: "2.0.1-dirty",
    });
    expect(log).toContain(
      "bundle: avtech-2.0.0-assembled-debian-arm64.raucb (avtech-rpi-arm64-debian, version 2.0.0-assembled)",
    );
    const json = await runProgram("rauc", [
      "--keyring",
      join(keys, "ca.cert.pem"),
      "info",
      "--output-format=json",
      join(out, "avtech-2.0.0-assembled-debian-arm64.raucb"),
    ]);
    expect((JSON.parse(json.stdout) as { version: string }).version).toBe("2.0.0-assembled");
  });

  it("says to build the image first when there is no assembled root", async () => {
    const empty = join(work, "no-parts");
    await mkdir(empty);
    await expect(
      recipe(`bundle_stage "$P" "$O"`, { P: empty, O: out, AVTECH_KEYS_DIR: keys, AVTECH_VERSION: "1" }),
    ).rejects.toThrow(/no root file system image at .*root\.img: run the image build \(make image\) first/);
  });
});
