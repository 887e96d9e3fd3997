import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deviceNodeFlags } from "@avtech/player/build";
import { parseConfig } from "@avtech/player/config";
import { parseSystemSettings } from "@avtech/provisioning";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recipe, renderRoleTemplate, roleDir, runProgram, unitSettings } from "./helpers.ts";

const units = ["avtech-player.service", "avtech-boot-config.service", "avtech-grow-data.service"];

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
  await mkdir(join(root, "usr/lib/systemd"), { recursive: true });
  await cp("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), {
    recursive: true,
    verbatimSymlinks: true,
  });
  await writeFile(join(root, "opt/avtech/node/bin/node"), "#!/bin/sh\n");
  await chmod(join(root, "opt/avtech/node/bin/node"), 0o755);
  await cp(join(roleDir, "files/sbin/avtech-grow-data"), join(root, "usr/local/sbin/avtech-grow-data"));
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

  it("mount root read-only, the data partition by label with growfs, and logs in RAM", async () => {
    const fstab = await renderRoleTemplate("fstab.j2", {});
    const rows = fstab
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("#"))
      .map((l) => l.trim().split(/\s+/));
    const byMount = new Map(rows.map((r) => [r[1], r]));
    expect(byMount.get("/")?.[0]).toBe("LABEL=ROOT");
    expect(byMount.get("/")?.[3]?.split(",")).toContain("ro");
    expect(byMount.get("/boot/firmware")?.[3]?.split(",")).toContain("ro");
    expect(byMount.get("/var/lib/avtech")?.[3]?.split(",")).toContain("x-systemd.growfs");
    expect(byMount.get("/var/log")?.[2]).toBe("tmpfs");
    const journald = await readFile(join(roleDir, "files/conf/journald-avtech.conf"), "utf8");
    expect(journald).toMatch(/^Storage=volatile$/m);
    expect(journald).toMatch(/^RuntimeMaxUse=\d+M$/m);
    const watchdog = await readFile(join(roleDir, "files/conf/system-watchdog.conf"), "utf8");
    expect(watchdog).toMatch(/^RuntimeWatchdogSec=\d+s$/m);
  });
});

describe("disk assembly (the image build's own functions, on a small tree)", () => {
  it("builds FAT + ext4 partitions that pass fsck, keep owners and modes, in an MBR disk", async () => {
    const d = join(work, "disk");
    const root = join(d, "rootfs");
    await mkdir(join(root, "boot/firmware"), { recursive: true });
    await mkdir(join(root, "var/lib/avtech/media"), { recursive: true });
    await mkdir(join(root, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
    await mkdir(join(root, "usr/local/sbin"), { recursive: true });
    await writeFile(join(root, "boot/firmware/config.txt"), "arm_64bit=1\n");
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
      join(roleDir, "files/systemd/avtech-player.service"),
      join(root, "etc/systemd/system/avtech-player.service"),
    );
    await symlink(
      "/etc/systemd/system/avtech-player.service",
      join(root, "etc/systemd/system/multi-user.target.wants/avtech-player.service"),
    );
    const img = join(d, "disk.img");
    const out = await recipe(`AVTECH_BOOT_MIB=40 AVTECH_DATA_MIB=16 assemble_image "$R" "$P" "$I" && sfdisk -J "$I"`, {
      R: root,
      P: join(d, "parts"),
      I: img,
    });
    const table = JSON.parse(out.slice(out.indexOf("{"))) as {
      partitiontable: {
        label: string;
        partitions: { start: number; size: number; type: string; bootable?: boolean }[];
      };
    };
    const [boot, rootPart, data] = table.partitiontable.partitions;
    expect(table.partitiontable.label).toBe("dos");
    expect(boot).toMatchObject({ start: 8192, size: 40 * 2048, type: "c", bootable: true });
    expect(rootPart?.type).toBe("83");
    expect(data).toMatchObject({ type: "83", size: 16 * 2048 });

    const parts = join(d, "parts");
    expect((await runProgram("fsck.vfat", ["-n", join(parts, "boot.img")])).code).toBe(0);
    for (const p of ["root.img", "data.img"]) {
      expect((await runProgram("e2fsck", ["-fn", join(parts, p)])).code, p).toBe(0);
    }
    const labels = await recipe(`e2label "$P/root.img"; e2label "$P/data.img"; fatlabel "$P/boot.img"`, { P: parts });
    expect(labels.split("\n").map((l) => l.trim())).toEqual(["ROOT", "DATA", "BOOT", ""]);

    // Boot files went to the FAT partition, not the root file system, which keeps an empty mount point.
    const mdir = await runProgram("mdir", ["-b", "-i", join(parts, "boot.img"), "::"]);
    expect(mdir.stdout).toContain("config.txt");
    const rootLs = await runProgram("debugfs", ["-R", "ls -l /boot/firmware", join(parts, "root.img")]);
    expect(rootLs.stdout).not.toContain("config.txt");
    // Owners, modes and links survive mkfs.ext4 -d; the data partition's root belongs to the avtech user.
    const stat = async (image: string, path: string) =>
      (await runProgram("debugfs", ["-R", `stat ${path}`, join(parts, image)])).stdout;
    expect(await stat("root.img", "/usr/local/sbin/avtech-grow-data")).toMatch(/Mode:\s+0755/);
    expect(await stat("root.img", "/etc/systemd/system/multi-user.target.wants/avtech-player.service")).toContain(
      'Fast link dest: "/etc/systemd/system/avtech-player.service"',
    );
    expect(await stat("data.img", "/")).toMatch(/User:\s+998\s+Group:\s+997/);
    expect(await stat("data.img", "/media")).toContain("Type: directory");
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
