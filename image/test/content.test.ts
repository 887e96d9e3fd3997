import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deviceNodeFlags } from "@avtech/player/build";
import { parseConfig } from "@avtech/player/config";
import { parseSystemSettings } from "@avtech/provisioning";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recipe, renderRoleTemplate, roleDir, runProgram, unitSettings } from "./helpers.ts";

const units = [
  "avtech-player.service",
  "avtech-boot-config.service",
  "avtech-grow-data.service",
  "avtech-reboot.path",
  "avtech-reboot.service",
  "avtech-update-deadline.timer",
  "avtech-update-deadline.service",
];

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "avtech-image-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A root tree holding the role's units and the programs they start, over this machine's systemd units. */
async function stageUnits(root: string): Promise<void> {
  await mkdir(join(root, "etc/systemd/system"), { recursive: true });
  await mkdir(join(root, "opt/avtech/node/bin"), { recursive: true });
  await mkdir(join(root, "usr/local/sbin"), { recursive: true });
  await mkdir(join(root, "usr/local/lib/avtech"), { recursive: true });
  await mkdir(join(root, "usr/lib/systemd"), { recursive: true });
  await cp("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), {
    recursive: true,
    verbatimSymlinks: true,
  });
  await mkdir(join(root, "bin"), { recursive: true });
  for (const program of ["opt/avtech/node/bin/node", "bin/rm", "bin/systemctl"]) {
    await writeFile(join(root, program), "#!/bin/sh\n");
    await chmod(join(root, program), 0o755);
  }
  await cp(join(roleDir, "files/sbin/avtech-grow-data"), join(root, "usr/local/sbin/avtech-grow-data"));
  await cp(
    join(roleDir, "files/ota/avtech-update-deadline"),
    join(root, "usr/local/lib/avtech/avtech-update-deadline"),
  );
  for (const unit of units) {
    await cp(join(roleDir, "files/systemd", unit), join(root, "etc/systemd/system", unit));
  }
}

describe("systemd units", () => {
  it("pass systemd-analyze verify with no warnings", async () => {
    const root = join(work, "verify");
    await stageUnits(root);
    const result = await runProgram("systemd-analyze", ["verify", `--root=${root}`, ...units]);
    expect(result.stderr + result.stdout).toBe("");
    expect(result.code).toBe(0);
  });

  it("run the player under the systemd watchdog with a restart policy and hardening", async () => {
    const unit = unitSettings(await readFile(join(roleDir, "files/systemd/avtech-player.service"), "utf8"));
    expect(unit.get("Type")).toEqual(["notify"]);
    expect(unit.get("NotifyAccess")).toEqual(["all"]);
    expect(unit.get("WatchdogSec")).toEqual(["30s"]);
    expect(unit.get("Restart")).toEqual(["always"]);
    expect(unit.get("User")).toEqual(["avtech"]);
    expect(unit.get("ExecStart")?.[0]).toBe(
      "/opt/avtech/node/bin/node --lite-mode /opt/avtech/player/avtech-player.mjs run --config /boot/firmware/avtech.toml",
    );
    for (const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ReadWritePaths", "/var/lib/avtech"],
      ["DevicePolicy", "closed"],
    ] as const) {
      expect(unit.get(key), key).toEqual([value]);
    }
    // Its systemd-analyze security exposure (≤ 3.0) is checked with every other unit's in unit-security.test.ts.
  });
});

describe("the player's device bundle on the device", () => {
  it("is what the unit and the avtech-player command run, with the bundle's Node flags", async () => {
    const unit = unitSettings(await readFile(join(roleDir, "files/systemd/avtech-player.service"), "utf8"));
    const [node, ...rest] = unit.get("ExecStart")?.[0]?.split(" ") ?? [];
    const bundle = rest[deviceNodeFlags.length];
    expect(rest.slice(0, deviceNodeFlags.length)).toEqual([...deviceNodeFlags]);
    expect(bundle).toBe("/opt/avtech/player/avtech-player.mjs");
    const wrapper = await readFile(join(roleDir, "files/bin/avtech-player"), "utf8");
    expect(wrapper.startsWith("#!/bin/sh\n")).toBe(true);
    expect(wrapper.split("\n")).toContain(`exec ${[node, ...deviceNodeFlags, bundle].join(" ")} "$@"`);
  });

  it("is installed by the role where the unit looks for it, with the avtech-player command", async () => {
    // The role's tasks as data (PyYAML ships with Ansible).
    const dump = await runProgram("python3", [
      "-c",
      "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
      join(roleDir, "tasks/main.yml"),
    ]);
    const tasks = JSON.parse(dump.stdout) as {
      name: string;
      "ansible.builtin.copy"?: { src: string; dest: string; mode: string };
      loop?: string[];
    }[];
    const copies = tasks.flatMap((t) => {
      const copy = t["ansible.builtin.copy"];
      if (copy === undefined) return [];
      const items = t.loop ?? [""];
      return items.map((item) => ({
        src: copy.src.replaceAll("{{ item }}", item),
        dest: copy.dest.replaceAll("{{ item }}", item),
        mode: copy.mode,
      }));
    });
    expect(copies).toContainEqual({
      src: "{{ avtech_player_bundle_dir }}/avtech-player.mjs",
      dest: "/opt/avtech/player/avtech-player.mjs",
      mode: "0644",
    });
    expect(copies).toContainEqual({
      src: "{{ avtech_player_bundle_dir }}/avtech-player.licenses.txt",
      dest: "/opt/avtech/player/avtech-player.licenses.txt",
      mode: "0644",
    });
    expect(copies).toContainEqual({ src: "bin/avtech-player", dest: "/usr/local/bin/avtech-player", mode: "0755" });
  });
});

describe("boot partition defaults of the player role", () => {
  it("are accepted by the player's config parser and the system settings parser", async () => {
    const pairing = parseConfig(await renderRoleTemplate("avtech.toml.j2", {}), "/boot/firmware/avtech.toml");
    expect(pairing.enrollment).toEqual({ kind: "pairing" });
    expect(pairing.dataDir).toBe("/var/lib/avtech");
    const enrolled = parseConfig(
      await renderRoleTemplate("avtech.toml.j2", { avtech_player_enrollment_key: "ek_1" }),
      "avtech.toml",
    );
    expect(enrolled.enrollment).toEqual({ kind: "enrollmentKey", key: "ek_1" });
    const system = parseSystemSettings(await renderRoleTemplate("avtech-system.toml.j2", {}), "avtech-system.toml");
    expect(system).toMatchObject({ hostname: "avtech-{serial}", ssh: false });
  });

  it("mount the boot partition read-only, the data partition by label with growfs, and logs in RAM", async () => {
    const fstab = await renderRoleTemplate("fstab.j2", {});
    const rows = fstab
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("#"))
      .map((l) => l.trim().split(/\s+/));
    const byMount = new Map(rows.map((r) => [r[1], r]));
    // The root is whichever slot U-Boot booted, read-only from the kernel command line (image/boot/boot.cmd):
    // a LABEL= line would name one slot.
    expect(byMount.has("/")).toBe(false);
    expect(byMount.get("/boot/firmware")?.[0]).toBe("LABEL=BOOT");
    expect(byMount.get("/boot/firmware")?.[3]?.split(",")).toContain("ro");
    expect(byMount.get("/var/lib/avtech")?.[0]).toBe("LABEL=DATA");
    expect(byMount.get("/var/lib/avtech")?.[3]?.split(",")).toContain("x-systemd.growfs");
    expect(byMount.get("/var/log")?.[2]).toBe("tmpfs");
    const journald = await readFile(join(roleDir, "files/conf/journald-avtech.conf"), "utf8");
    expect(journald).toMatch(/^Storage=volatile$/m);
    expect(journald).toMatch(/^RuntimeMaxUse=\d+M$/m);
    const watchdog = await readFile(join(roleDir, "files/conf/system-watchdog.conf"), "utf8");
    expect(watchdog).toMatch(/^RuntimeWatchdogSec=\d+s$/m);
  });
});

/** What raspi-firmware writes into /boot/firmware for kernel 6.1.0-test-arm64 (shortened). */
const raspiConfig = `# Do not modify this file!
arm_64bit=1

enable_uart=1
upstream_kernel=1

kernel=vmlinuz-6.1.0-test-arm64
# For details on the initramfs directive, see
# https://www.raspberrypi.org/forums/viewtopic.php?f=63&t=10532
initramfs initrd.img-6.1.0-test-arm64

# Inserted by /etc/default/raspi-firmware-custom
dtparam=watchdog=on
`;
const raspiCmdline =
  " console=ttyS1,115200 console=tty1 root=LABEL=ROOT rw fsck.repair=yes net.ifnames=0 cma=256M rootwait ro quiet\n";

describe("disk assembly (the image build's own functions, on a small tree)", () => {
  it("builds BOOT, ROOT_A, ROOT_B and DATA that pass fsck, keep owners and modes, in an MBR disk", async () => {
    const d = join(work, "disk");
    const root = join(d, "rootfs");
    await mkdir(join(root, "boot/firmware"), { recursive: true });
    await mkdir(join(root, "var/lib/avtech/media"), { recursive: true });
    await mkdir(join(root, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
    await mkdir(join(root, "usr/local/sbin"), { recursive: true });
    await mkdir(join(root, "usr/lib/u-boot/rpi_arm64"), { recursive: true });
    await writeFile(join(root, "usr/lib/u-boot/rpi_arm64/u-boot.bin"), "u-boot for the Pi\n");
    await writeFile(join(root, "boot/vmlinuz-6.1.0-test-arm64"), "kernel\n");
    await writeFile(join(root, "boot/initrd.img-6.1.0-test-arm64"), "initramfs\n");
    // raspi-firmware's copies for the Pi firmware, which U-Boot replaces.
    await writeFile(join(root, "boot/firmware/vmlinuz-6.1.0-test-arm64"), "kernel\n");
    await writeFile(join(root, "boot/firmware/initrd.img-6.1.0-test-arm64"), "initramfs\n");
    await writeFile(join(root, "boot/firmware/config.txt"), raspiConfig);
    await writeFile(join(root, "boot/firmware/cmdline.txt"), raspiCmdline);
    await writeFile(
      join(root, "boot/firmware/avtech.toml"),
      'control_plane_url = "https://x.example"\npairing = true\n',
    );
    await writeFile(
      join(root, "etc/passwd"),
      "root:x:0:0::/root:/bin/sh\navtech:x:998:997::/var/lib/avtech:/usr/sbin/nologin\n",
    );
    await writeFile(join(root, "etc/machine-id"), "");
    await cp(join(roleDir, "files/sbin/avtech-grow-data"), join(root, "usr/local/sbin/avtech-grow-data"));
    await cp(
      join(roleDir, "files/ota/avtech-update-deadline"),
      join(root, "usr/local/lib/avtech/avtech-update-deadline"),
    );
    await cp(
      join(roleDir, "files/systemd/avtech-player.service"),
      join(root, "etc/systemd/system/avtech-player.service"),
    );
    await symlink(
      "/etc/systemd/system/avtech-player.service",
      join(root, "etc/systemd/system/multi-user.target.wants/avtech-player.service"),
    );
    const img = join(d, "disk.img");
    const out = await recipe(
      `AVTECH_BOOT_MIB=40 AVTECH_ROOT_SLOT_MIB=80 AVTECH_DATA_MIB=16 assemble_image "$R" "$P" "$I" && sfdisk -J "$I"`,
      { R: root, P: join(d, "parts"), I: img, AVTECH_VERSION: "9.9.9-test" },
    );
    const table = JSON.parse(out.slice(out.indexOf("{"))) as {
      partitiontable: {
        label: string;
        id: string;
        partitions: { start: number; size: number; type: string; bootable?: boolean }[];
      };
    };
    expect(table.partitiontable.label).toBe("dos");
    // The disk id that slot PARTUUIDs (41565445-02, -03) are made of, which system.conf names.
    expect(table.partitiontable.id).toBe("0x41565445");
    const [boot, slotA, slotB, data, ...more] = table.partitiontable.partitions;
    expect(more).toEqual([]);
    expect(boot).toMatchObject({ start: 8192, size: 40 * 2048, type: "c", bootable: true });
    expect(slotA).toMatchObject({ start: 8192 + 40 * 2048, size: 80 * 2048, type: "83" });
    expect(slotB).toMatchObject({ start: 8192 + 120 * 2048, size: 80 * 2048, type: "83" });
    expect(data).toMatchObject({ start: 8192 + 200 * 2048, size: 16 * 2048, type: "83" });
    expect(slotA?.bootable).toBeUndefined();

    // Each partition of the disk holds the file system it should, with its label.
    const partition = async (n: number) => {
      const p = table.partitiontable.partitions[n - 1];
      if (p === undefined) throw new Error(`no partition ${n}`);
      const file = join(d, `p${n}.img`);
      await recipe(`dd if="$I" of="$F" bs=512 skip=${p.start} count=${p.size} status=none`, { I: img, F: file });
      return file;
    };
    const p = [await partition(1), await partition(2), await partition(3), await partition(4)] as const;
    expect((await runProgram("fsck.vfat", ["-n", p[0]])).code).toBe(0);
    for (const f of p.slice(1)) expect((await runProgram("e2fsck", ["-fn", f])).code, f).toBe(0);
    const labels = await recipe(`fatlabel "$P1"; e2label "$P2"; e2label "$P3"; e2label "$P4"`, {
      P1: p[0],
      P2: p[1],
      P3: p[2],
      P4: p[3],
    });
    expect(labels.split("\n").map((l) => l.trim())).toEqual(["BOOT", "ROOT_A", "ROOT_B", "DATA", ""]);

    // Slot A holds the root tree with links to its kernel, which boot.scr loads; slot B is an empty file system.
    // debugfs `ls -p` lines: /inode/mode/uid/gid/name/size/
    const ls = async (file: string, dir: string) =>
      (await runProgram("debugfs", ["-R", `ls -p ${dir}`, file])).stdout
        .split("\n")
        .filter((l) => l.startsWith("/"))
        .map((l) => l.split("/")[5]);
    const stat = async (file: string, path: string) =>
      (await runProgram("debugfs", ["-R", `stat ${path}`, file])).stdout;
    expect(await stat(p[1], "/boot/vmlinuz")).toContain('Fast link dest: "vmlinuz-6.1.0-test-arm64"');
    expect(await stat(p[1], "/boot/initrd.img")).toContain('Fast link dest: "initrd.img-6.1.0-test-arm64"');
    expect(await ls(p[2], "/")).toEqual([".", "..", "lost+found"]);

    // The boot partition: the firmware starts U-Boot, which runs boot.scr; no kernel of its own.
    const mdir = await runProgram("mdir", ["-b", "-i", p[0], "::"]);
    const bootFiles = mdir.stdout.split("\n").map((l) => l.replace(/^::\//, "").trim());
    for (const f of [
      "config.txt",
      "cmdline.txt",
      "u-boot.bin",
      "boot.scr",
      "rauc.env",
      "rauc.env.bak",
      "avtech.toml",
    ]) {
      expect(bootFiles, f).toContain(f);
    }
    expect(bootFiles.filter((f) => /^(vmlinuz|initrd)/.test(f))).toEqual([]);
    const mtype = async (name: string) => (await runProgram("mtype", ["-i", p[0], `::${name}`])).stdout;
    const config = await mtype("config.txt");
    expect(config.split("\n").filter((l) => /^(kernel|initramfs)\b/.test(l))).toEqual(["kernel=u-boot.bin"]);
    expect(config).toContain("dtparam=watchdog=on");
    expect(await mtype("u-boot.bin")).toBe("u-boot for the Pi\n");
    // The firmware's command line without a root (boot.scr appends the slot's root=PARTUUID=… ro).
    expect((await mtype("cmdline.txt")).trim().split(" ")).toEqual([
      "console=ttyS1,115200",
      "console=tty1",
      "fsck.repair=yes",
      "net.ifnames=0",
      "cma=256M",
      "rootwait",
      "ro",
      "quiet",
    ]);
    // The initial boot state: slot A first with 3 tries, empty slot B not listed.
    const state = await recipe(
      `mcopy -n -i "$B" ::rauc.env "$D/rauc.env" && echo "$D/rauc.env 0x0 0x4000" > "$D/fw_env.config" && fw_printenv -c "$D/fw_env.config"`,
      { B: p[0], D: d },
    );
    expect(state.trim().split("\n").sort()).toEqual(["BOOT_A_LEFT=3", "BOOT_B_LEFT=0", "BOOT_ORDER=A"]);

    // Owners, modes and links survive mkfs.ext4 -d; the data partition's root belongs to the avtech user.
    expect(await stat(p[1], "/usr/local/sbin/avtech-grow-data")).toMatch(/Mode:\s+0755/);
    expect(await stat(p[1], "/etc/systemd/system/multi-user.target.wants/avtech-player.service")).toContain(
      'Fast link dest: "/etc/systemd/system/avtech-player.service"',
    );
    expect(await ls(p[1], "/boot/firmware")).toEqual([".", ".."]);
    expect(await stat(p[3], "/")).toMatch(/User:\s+998\s+Group:\s+997/);
    expect(await stat(p[3], "/media")).toContain("Type: directory");
    // The version `make update-bundle` gives a bundle of this root.
    expect(await readFile(join(d, "parts/root.version"), "utf8")).toBe("9.9.9-test\n");
  });

  it("refuses a root file system too big for a slot", async () => {
    const d = join(work, "big");
    await mkdir(d, { recursive: true });
    await expect(
      recipe(
        `for f in boot a b data; do truncate -s 8M "$D/$f.img"; done; truncate -s 20M "$D/a.img"
         AVTECH_ROOT_SLOT_MIB=16 make_disk "$D/disk.img" "$D/boot.img" "$D/a.img" "$D/b.img" "$D/data.img"`,
        { D: d },
      ),
    ).rejects.toThrow(/a\.img \(20 MiB\) does not fit a root slot of 16 MiB/);
  });

  it("rejects a root tree the player role has not been applied to", async () => {
    const root = join(work, "bare");
    await mkdir(join(root, "etc"), { recursive: true });
    await writeFile(join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    await expect(
      recipe(`assemble_image "$R" "$P" "$I"`, { R: root, P: join(work, "bp"), I: join(work, "b.img") }),
    ).rejects.toThrow(/no avtech user/);
  });
});
