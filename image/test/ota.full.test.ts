/**
 * A/B updates of the built image under QEMU, booted the way a Pi boots it: U-Boot (Debian's u-boot-qemu as
 * `-bios`) runs the image's boot.scr, which picks the root slot from the boot state RAUC keeps on the boot
 * partition. Each QEMU run is one boot (`-no-reboot`: a reboot in the guest ends QEMU and the test starts it
 * again, as the board's firmware would). A test-only unit added to slot A's file system (debugfs, no mount), and
 * so to every bundle made from it, reports each boot on the serial console (slot, boot state, `rauc status`) and
 * runs the step the test put on a small disk labelled AVTEST; the bundles are on a disk labelled AVBUNDLES.
 * A second test-only unit runs commands as the player's user inside the player unit's own sandbox (its [Service]
 * settings copied from ansible/roles/player/files/systemd/avtech-player.service), to show the player can install,
 * read the status and mark a slot good.
 *
 * The bundles are made by `make update-bundle`'s function (build_update_bundle) from that slot A file system, so
 * installing one writes a real 1.4 GiB root into the other slot. They are signed with the development key in
 * image/keys/dev (AVTECH_KEYS_DIR), which must be the one the image trusts. The serial console transcript is kept
 * in test-artifacts/image/ota-console.log.
 *
 * Boots: 1 grows the data partition (first boot) and reboots; 2 (slot A) refuses a bundle signed by another key
 * and one for another compatible, shows the D-Bus policy keeps other users off RAUC, then installs bundle
 * "good" as the player would; 3 boots slot B and the player's user marks it good, then installs bundle
 * "unconfirmed" into slot A; 4–6 boot that never-confirmed slot A; 7 is back on slot B, which starts another
 * install into slot A that the test cuts off by killing QEMU while RAUC writes the slot; 8 boots slot B again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readPartitions } from "@avtech/provisioning";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageDir, recipe, repoDir, roleDir } from "./helpers.ts";
import { addToPartition, builtImage, consoleJournal, qemuArgs, slotAVersion } from "./qemu.ts";

const transcriptPath = join(repoDir, "test-artifacts/image/ota-console.log");
/** Each test boots the guest up to four times under TCG (2–4 min a boot on 2 shared cores). */
const testTimeout = 40 * 60_000;
const keys = process.env.AVTECH_KEYS_DIR ?? join(imageDir, "keys/dev");
const compatible = "avtech-rpi-arm64-debian";

/** Reports the boot and runs the test's step for it (test-only, in slot A and so in every bundle). */
const otaScript = `#!/bin/sh
say() { echo "AVTECH-TEST: $*"; }
say "booted slot=$(sed -n 's/.*rauc\\.slot=\\([AB]\\).*/\\1/p' /proc/cmdline) marker=$(cat /etc/avtech-test-marker)"
say "os-release $(tr '\\n' ' ' < /etc/avtech/os-release)"
say "bootenv $(fw_printenv | sort | tr '\\n' ' ')"
say "status $(rauc status --detailed --output-format=json)"
mkdir -p /run/avtest /run/avbundles
udevadm settle
mount -o ro /dev/disk/by-label/AVTEST /run/avtest
mount -o ro /dev/disk/by-label/AVBUNDLES /run/avbundles
say "step start"
. /run/avtest/step.sh
say "step end"
`;
const otaUnit = `[Unit]
Description=AVTech OTA test: report the boot and run the test's step

[Service]
Type=oneshot
ExecStart=/bin/sh /usr/local/sbin/avtech-test-ota
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
`;

/**
 * A oneshot unit running /run/avtest/as-player.sh with the player unit's user, groups and hardening: every
 * [Service] setting of avtech-player.service except how it starts, notifies and restarts.
 */
async function asPlayerUnit(): Promise<string> {
  const player = await readFile(join(roleDir, "files/systemd/avtech-player.service"), "utf8");
  const service = player.slice(player.indexOf("[Service]") + "[Service]".length, player.indexOf("[Install]"));
  const dropped = /^(Type|NotifyAccess|WatchdogSec|TimeoutStartSec|Restart|RestartSec|ExecStart)=/;
  const kept = service.split("\n").filter((l) => /^[A-Za-z]+=/.test(l) && !dropped.test(l));
  expect(kept).toContain("User=avtech");
  expect(kept).toContain("ProtectSystem=strict");
  return `[Unit]
Description=AVTech OTA test: a command as the player, in the player's sandbox

[Service]
Type=oneshot
ExecStart=/bin/sh /run/avtest/as-player.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
${kept.join("\n")}
`;
}

let work: string;
let disk: string;
let consoleLog: string;
let log: WriteStream;
let qemu: ChildProcess | undefined;
let bootCount = 0;
/** Console text per boot (index 0 = boot 1). */
const boots: string[] = [];

const consoleText = () => readFile(consoleLog, "utf8").catch(() => "");

/** The console text of boot `n` (1-based) so far. */
async function bootText(n: number): Promise<string> {
  const text = await consoleText();
  const start = text.indexOf(`=== AVTECH-TEST: QEMU boot ${n} ===`);
  if (start < 0) return "";
  const end = text.indexOf(`=== AVTECH-TEST: QEMU boot ${n + 1} ===`);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Writes the step disk for the next boot: step.sh (run as root) and as-player.sh (run as the player). */
async function writeStep(step: string, asPlayer = "true\n"): Promise<void> {
  const dir = join(work, "step");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  await writeFile(join(dir, "step.sh"), step);
  await writeFile(join(dir, "as-player.sh"), asPlayer);
  await recipe(`rm -f "$I" && truncate -s 4M "$I" && mkfs.ext4 -q -L AVTEST -d "$D" "$I"`, {
    D: dir,
    I: join(work, "step.img"),
  });
}

interface BootOptions {
  /** Commands run as the player (as-player.sh) when step.sh starts avtech-test-as-player.service. */
  asPlayer?: string;
  timeoutMs?: number;
  /** Kill QEMU (SIGKILL, a power cut) this long after this boot's console shows `killWhen`. */
  killWhen?: RegExp;
  killDelayMs?: number;
}

/** Boots once with the given step; resolves with the console text of that boot when QEMU has ended. */
async function boot(step: string, options: BootOptions = {}): Promise<string> {
  await writeStep(step, options.asPlayer);
  bootCount += 1;
  const n = bootCount;
  log.write(`\n=== AVTECH-TEST: QEMU boot ${n} ===\n`);
  const started = Date.now();
  const child = spawn(
    "qemu-system-aarch64",
    qemuArgs({ disk, drives: [join(work, "bundles.img"), join(work, "step.img")] }),
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  qemu = child;
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let exited = false;
  const ended = new Promise<string>((resolve) => {
    child.on("exit", (code, signal) => {
      exited = true;
      resolve(`code ${code}, signal ${signal}`);
    });
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 25 * 60_000);
  if (options.killWhen !== undefined) {
    const pattern = options.killWhen;
    while (!exited && !pattern.test(await bootText(n))) await new Promise((r) => setTimeout(r, 500));
    if (!exited) {
      await new Promise((r) => setTimeout(r, options.killDelayMs ?? 0));
      log.write("\n=== AVTECH-TEST: killing QEMU (power cut) ===\n");
      child.kill("SIGKILL");
    }
  }
  const how = await ended;
  clearTimeout(timer);
  qemu = undefined;
  const text = await bootText(n);
  boots[n - 1] = text;
  console.info(`ota test: boot ${n} took ${Math.round((Date.now() - started) / 1000)} s (QEMU ended: ${how})`);
  return text;
}

/** What the test unit reported about a boot. */
function report(text: string): {
  slot: string;
  marker: string;
  version: string;
  bootenv: Record<string, string>;
  status: RaucStatus;
} {
  const booted = /AVTECH-TEST: booted slot=([AB]?) marker=(\S*)/.exec(text);
  const version = /AVTECH-TEST: os-release .*AVTECH_OS_VERSION=(\S+)/.exec(text)?.[1] ?? "";
  const bootenv = /AVTECH-TEST: bootenv (.*)/.exec(text);
  const status = /AVTECH-TEST: status (\{.*\})/.exec(text);
  if (booted === null || bootenv === null || status === null) {
    throw new Error(`the boot did not report itself; console tail:\n${text.split("\n").slice(-80).join("\n")}`);
  }
  const env = Object.fromEntries(
    (bootenv[1] as string)
      .trim()
      .split(/ (?=BOOT_)/)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  return {
    slot: booted[1] as string,
    marker: booted[2] as string,
    version,
    bootenv: env,
    status: JSON.parse(status[1] as string),
  };
}

/** `rauc status --output-format=json` (RAUC 1.8) as far as the test reads it. */
interface RaucStatus {
  compatible: string;
  booted: string;
  boot_primary: string;
  slots: Record<
    string,
    {
      bootname: string;
      state: string;
      boot_status: string;
      slot_status?: { bundle?: { compatible?: string; version?: string }; status?: string };
    }
  >[];
}

/** The slot entry of a status by bootname. */
function slot(status: RaucStatus, bootname: string) {
  const entry = status.slots.flatMap((s) => Object.values(s)).find((s) => s.bootname === bootname);
  if (entry === undefined) throw new Error(`no slot ${bootname} in ${JSON.stringify(status)}`);
  return entry;
}

beforeAll(async () => {
  const image = await builtImage();
  work = await mkdtemp(join(repoDir, "test-artifacts/.ota-"));
  disk = join(work, "disk.img");
  consoleLog = join(work, "console.log");
  log = createWriteStream(consoleLog);
  await recipe(`cp --sparse=always "$S" "$D"`, { S: image, D: disk });
  // A bigger "card": the first boot grows the data partition, where the player's user puts the bundle it installs.
  await truncate(disk, (await stat(disk)).size + 3 * 1024 ** 3);
  const partitions = await readPartitions(disk);
  const slotA = partitions[1];
  if (slotA === undefined) throw new Error("no root slot A (partition 2)");

  // The image must trust the key the test signs with, and its os-release must name its version and compatible.
  await slotAVersion(disk, slotA, work, keys, compatible);

  // Test-only units in slot A (and so in the bundles made from it): the journal on the console, the reporting
  // unit, the as-player unit, a marker naming the system. The player itself is not started: nothing here needs it.
  await writeFile(join(work, "ota.sh"), otaScript);
  await writeFile(join(work, "ota.service"), otaUnit);
  await writeFile(join(work, "as-player.service"), await asPlayerUnit());
  await writeFile(join(work, "journald.conf"), consoleJournal);
  await writeFile(join(work, "marker"), "image\n");
  await addToPartition(disk, slotA, work, [
    `write ${work}/ota.sh /usr/local/sbin/avtech-test-ota`,
    `write ${work}/ota.service /etc/systemd/system/avtech-test-ota.service`,
    "symlink /etc/systemd/system/multi-user.target.wants/avtech-test-ota.service /etc/systemd/system/avtech-test-ota.service",
    `write ${work}/as-player.service /etc/systemd/system/avtech-test-as-player.service`,
    `write ${work}/journald.conf /etc/systemd/journald.conf.d/avtech-test-console.conf`,
    `write ${work}/marker /etc/avtech-test-marker`,
    "rm /etc/systemd/system/multi-user.target.wants/avtech-player.service",
  ]);

  // Slot A's file system exactly (the partition is larger): what `make update-bundle` bundles.
  const root = join(work, "root.img");
  await recipe(
    `dd if="$D" of="$R" bs=1M iflag=skip_bytes,count_bytes skip=${slotA.offsetBytes} count=${slotA.sizeBytes} conv=sparse status=none
     blocks=$(dumpe2fs -h "$R" 2>/dev/null | awk -F: '/^Block count/ { print $2 }')
     size=$(dumpe2fs -h "$R" 2>/dev/null | awk -F: '/^Block size/ { print $2 }')
     truncate -s $((blocks * size)) "$R"
     e2fsck -fn "$R" >/dev/null`,
    { D: disk, R: root },
  );

  // The bundles: two real ones that differ in their marker, and two tiny ones RAUC must refuse.
  const bundles = join(work, "bundles");
  await mkdir(bundles);
  const variant = async (name: string, version: string) => {
    const img = join(work, `${name}.ext4`);
    await recipe(`cp --sparse=always "$R" "$I"`, { R: root, I: img });
    await writeFile(join(work, "marker"), `${name}\n`);
    // As a build of that version would say.
    await writeFile(join(work, "os-release"), `AVTECH_OS_VERSION=${version}\nAVTECH_RAUC_COMPATIBLE=${compatible}\n`);
    await addToPartition(img, { offsetBytes: 0, sizeBytes: (await stat(img)).size }, work, [
      "rm /etc/avtech-test-marker",
      `write ${work}/marker /etc/avtech-test-marker`,
      "rm /etc/avtech/os-release",
      `write ${work}/os-release /etc/avtech/os-release`,
    ]);
    await signed(img, join(bundles, `${name}.raucb`), compatible, version, keys);
    await rm(img);
  };
  const started = Date.now();
  await variant("good", "ota-test-good");
  await variant("unconfirmed", "ota-test-unconfirmed");
  console.info(`ota test: two bundles made in ${Math.round((Date.now() - started) / 1000)} s`);
  const tiny = join(work, "tiny.ext4");
  await recipe(
    `mkdir -p "$W/tiny" && head -c 300000 /dev/urandom > "$W/tiny/noise" && truncate -s 8M "$I" && mkfs.ext4 -q -d "$W/tiny" "$I"`,
    {
      W: work,
      I: tiny,
    },
  );
  const otherKeys = join(work, "other-keys");
  await recipe(`ensure_dev_keys "$K"`, { K: otherKeys });
  await signed(tiny, join(bundles, "foreign-key.raucb"), compatible, "ota-test-foreign", otherKeys);
  await signed(tiny, join(bundles, "wrong-compatible.raucb"), "avtech-rpi-arm64-raspios", "ota-test-raspios", keys);
  await recipe(
    `total=$(du -sm --apparent-size "$B" | cut -f1)
     truncate -s $((total + 64))M "$I" && mkfs.ext4 -q -L AVBUNDLES -d "$B" "$I" && rm -r "$B"`,
    { B: bundles, I: join(work, "bundles.img") },
  );
}, 60 * 60_000);

/** A bundle of `img` the way `make update-bundle` makes one. */
async function signed(img: string, out: string, compat: string, version: string, keyDir: string): Promise<void> {
  await recipe(`build_update_bundle "$I" "$O" "$C" "$V" "$K/signing.cert.pem" "$K/signing.key.pem" "$K/ca.cert.pem"`, {
    I: img,
    O: out,
    C: compat,
    V: version,
    K: keyDir,
    AVTECH_PACKAGE_SOURCE: "debian",
  });
}

afterAll(async () => {
  const child = qemu;
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
  log?.end();
  if (consoleLog !== undefined) {
    await mkdir(join(transcriptPath, ".."), { recursive: true });
    await copyFile(consoleLog, transcriptPath).catch(() => undefined);
  }
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const reboot = "systemctl reboot\n";
/** An install into slot A left running in the background until the test cuts the power. */
const cutOff = `(rauc install /run/avbundles/good.raucb 2>&1 | sed 's/^/AVTECH-TEST: install cut off: /') &
sleep 3600
`;
/** RAUC's log line when it starts writing slot A (journald copies it to the console). */
const writingSlotA = /writing data to device \/dev\/disk\/by-partuuid\/41565445-02/;
const markGood = `rauc status mark-good 2>&1 | sed 's/^/AVTECH-TEST: as-player mark-good: /'
rauc status --detailed --output-format=json 2>&1 | sed 's/^/AVTECH-TEST: as-player status: /'
`;

describe("A/B updates with RAUC and U-Boot under QEMU", () => {
  it(
    "boots slot A of the fresh image (first boot grows the data partition and reboots)",
    async () => {
      const first = await boot("true\n");
      expect(first).toMatch(/^AVTech: booting slot A \(partition 2\), tries left A=2 B=0$/m);
      expect(first).toMatch(/CHANGED: partition=4/);
      const second = await boot(
        `# RAUC refuses these itself:
rauc install /run/avbundles/foreign-key.raucb 2>&1 | sed 's/^/AVTECH-TEST: foreign-key: /'
rauc install /run/avbundles/wrong-compatible.raucb 2>&1 | sed 's/^/AVTECH-TEST: wrong-compatible: /'
# Users other than root and the player's may not call RAUC (D-Bus policy).
setpriv --reuid=nobody --regid=nogroup --clear-groups busctl get-property de.pengutronix.rauc / de.pengutronix.rauc.Installer Operation 2>&1 | sed 's/^/AVTECH-TEST: nobody: /'
# The player's way: the bundle downloaded into its data folder (its file), installed as its user in its sandbox,
# then a reboot asked for through /var/lib/avtech/reboot-requested (avtech-reboot.path).
mkdir -p /var/lib/avtech/update && chown avtech:avtech /var/lib/avtech/update
install -o avtech -g avtech -m 0640 /run/avbundles/good.raucb /var/lib/avtech/update/good.raucb
systemctl start avtech-test-as-player.service
sleep 600
say "no reboot came"
`,
        {
          asPlayer: `rauc install /var/lib/avtech/update/good.raucb 2>&1 | sed 's/^/AVTECH-TEST: as-player install: /'
rauc status --detailed --output-format=json 2>&1 | sed 's/^/AVTECH-TEST: as-player status: /'
echo "AVTECH-TEST: after install bootenv $(fw_printenv | sort | tr '\\n' ' ')"
ls -l /var/lib/avtech/update/good.raucb | sed 's/^/AVTECH-TEST: as-player bundle file: /'
rm /var/lib/avtech/update/good.raucb && echo "AVTECH-TEST: as-player deleted the bundle"
touch /var/lib/avtech/reboot-requested
`,
        },
      );
      const r = report(second);
      expect(r.slot).toBe("A");
      expect(r.marker).toBe("image");
      expect(r.status.booted).toBe("A");
      expect(r.status.compatible).toBe(compatible);
      expect(second).toMatch(/Kernel command line: .*root=PARTUUID=41565445-02 rootwait ro rauc\.slot=A/);
    },
    testTimeout,
  );

  it("refuses bundles signed with another key or made for another compatible, and other users", () => {
    const second = boots[1] ?? "";
    expect(second).toMatch(/AVTECH-TEST: foreign-key: .*signature verification failed/);
    expect(second).toMatch(/AVTECH-TEST: wrong-compatible: .*Compatible mismatch/);
    expect(second).toMatch(/AVTECH-TEST: nobody: .*Access ?denied/i);
  });

  it("installs a bundle as the player's user into slot B, makes B the next boot, and reboots on the player's request", () => {
    const second = boots[1] ?? "";
    // RAUC left the player's file as it was (a verity bundle needs no exclusive access: dm-verity checks every block
    // RAUC reads), and the player deleted it after the install.
    expect(second).toMatch(/AVTECH-TEST: as-player bundle file: -rw-r----- 1 avtech avtech \d+ .*good\.raucb/);
    expect(second).toContain("AVTECH-TEST: as-player deleted the bundle");
    expect(second).toMatch(/Starting avtech-reboot\.service/);
    expect(second).not.toContain("AVTECH-TEST: no reboot came");
    // The slot it wrote got its own label back (RAUC's post-install handler).
    expect(second).toMatch(/labelled \/dev\/disk\/by-partuuid\/41565445-03 ROOT_B/);
    expect(second).toMatch(
      /AVTECH-TEST: as-player install: .*Installing `\/var\/lib\/avtech\/update\/good\.raucb` succeeded/,
    );
    const after = /AVTECH-TEST: after install bootenv (.*)/.exec(second)?.[1] ?? "";
    expect(after).toContain("BOOT_ORDER=B A");
    expect(after).toContain("BOOT_B_LEFT=3");
  });

  it(
    "boots slot B with the new root, where the player's user marks it good",
    async () => {
      const third = await boot(
        `systemctl start avtech-test-as-player.service
say "after mark-good bootenv $(fw_printenv | sort | tr '\\n' ' ')"
rauc install /run/avbundles/unconfirmed.raucb 2>&1 | sed 's/^/AVTECH-TEST: install unconfirmed: /'
say "after install bootenv $(fw_printenv | sort | tr '\\n' ' ')"
${reboot}`,
        { asPlayer: markGood },
      );
      expect(third).toMatch(/^AVTech: booting slot B \(partition 3\), tries left A=\d B=2$/m);
      expect(third).toMatch(/Kernel command line: .*root=PARTUUID=41565445-03 rootwait ro rauc\.slot=B/);
      const r = report(third);
      expect(r.slot).toBe("B");
      expect(r.marker).toBe("good");
      expect(r.status.booted).toBe("B");
      expect(slot(r.status, "B").slot_status?.bundle?.version).toBe("ota-test-good");
      expect(third).toMatch(/AVTECH-TEST: as-player mark-good: .*marked slot rootfs\.1 as good/);
      expect(/AVTECH-TEST: after mark-good bootenv (.*)/.exec(third)?.[1]).toContain("BOOT_B_LEFT=3");
      const status = JSON.parse(/AVTECH-TEST: as-player status: (\{.*\})/.exec(third)?.[1] ?? "null") as RaucStatus;
      expect(status.booted).toBe("B");
      expect(slot(status, "B").boot_status).toBe("good");
      // The installed slot got its own label back (RAUC's post-install handler).
      expect(third).toMatch(/labelled \/dev\/disk\/by-partuuid\/41565445-02 ROOT_A/);
    },
    testTimeout,
  );

  it(
    "falls back to slot B when the system in slot A never confirms, after its 3 tries",
    async () => {
      const third = boots[2] ?? "";
      expect(third).toMatch(/AVTECH-TEST: install unconfirmed: .*succeeded/);
      expect(/AVTECH-TEST: after install bootenv (.*)/.exec(third)?.[1]).toContain("BOOT_ORDER=A B");
      // Three boots of the unconfirmed system: nobody calls mark-good.
      for (const left of [2, 1, 0]) {
        const text = await boot(reboot);
        expect(text).toMatch(new RegExp(`^AVTech: booting slot A \\(partition 2\\), tries left A=${left} B=3$`, "m"));
        const r = report(text);
        expect(r.slot).toBe("A");
        expect(r.marker).toBe("unconfirmed");
        expect(r.version).toBe("ota-test-unconfirmed");
      }
      const back = await boot(cutOff, { killWhen: writingSlotA, killDelayMs: 8000 });
      expect(back).toMatch(/^AVTech: booting slot B \(partition 3\), tries left A=0 B=2$/m);
      const r = report(back);
      expect(r.slot).toBe("B");
      expect(r.marker).toBe("good");
      expect(r.bootenv.BOOT_A_LEFT).toBe("0");
      // What the player sees of the rollback: the old slot runs, the other holds the version it installed, "bad".
      expect(r.status.booted).toBe("B");
      expect(slot(r.status, "A").boot_status).toBe("bad");
      expect(slot(r.status, "A").slot_status?.bundle?.version).toBe("ota-test-unconfirmed");
    },
    testTimeout,
  );

  it(
    "boots the old slot, which works, after a power cut in the middle of an install",
    async () => {
      const cut = boots[6] ?? "";
      // RAUC took slot A out of the boot order, started writing it, and was cut off before it finished.
      expect(cut).toMatch(/Marking target slot rootfs\.0 as non-bootable/);
      expect(cut).toMatch(writingSlotA);
      expect(cut).toContain("=== AVTECH-TEST: killing QEMU (power cut) ===");
      expect(cut).not.toMatch(/Marking target slot rootfs\.0 as bootable/);
      expect(cut).not.toMatch(/install cut off: .*succeeded/);
      const next = await boot(`systemctl start avtech-test-as-player.service\n${reboot}`, { asPlayer: markGood });
      expect(next).toMatch(/^AVTech: booting slot B \(partition 3\), tries left A=0 B=1$/m);
      const r = report(next);
      expect(r.slot).toBe("B");
      expect(r.marker).toBe("good");
      expect(r.bootenv.BOOT_ORDER).toBe("B");
      expect(next).toContain("AVTECH-TEST: step end");
      expect(next).toMatch(/AVTECH-TEST: as-player mark-good: .*marked slot rootfs\.1 as good/);
      const status = JSON.parse(/AVTECH-TEST: as-player status: (\{.*\})/.exec(next)?.[1] ?? "null") as RaucStatus;
      expect(status.booted).toBe("B");
      expect(slot(status, "B").boot_status).toBe("good");
      expect(slot(status, "A").boot_status).toBe("bad");
    },
    testTimeout,
  );
});
