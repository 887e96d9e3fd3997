import { execFile } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { imageDir, recipe } from "./helpers.ts";

const exec = promisify(execFile);

/**
 * The raw image the full tests boot: AVTECH_IMAGE when set, else the newest image/out/avtech-*-debian-arm64.img
 * after running image/build.sh up to the raw image (the base stage is cached; a cold build takes ~25 min here).
 * Test files run in parallel workers of one vitest run: the first builds under a lock, the others wait and use
 * its image (a stamp named after the vitest process says it was built in this run).
 */
export async function builtImage(): Promise<string> {
  if (process.env.AVTECH_IMAGE !== undefined) return process.env.AVTECH_IMAGE;
  const out = join(imageDir, "out");
  const stamp = join(out, `.built-in-test-run-${process.ppid}`);
  // The raw image is all the tests need: skip compression (publish).
  await exec(
    "bash",
    [
      "-c",
      `mkdir -p "$1" && exec flock "$1/.test-build.lock" bash -c '[ -e "$2" ] || { "$3" base app rootfs assemble && touch "$2"; }'`,
      "build",
      out,
      stamp,
      join(imageDir, "build.sh"),
    ],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  const images = (await readdir(out)).filter((f) => /^avtech-.*-debian-arm64\.img$/.test(f));
  const dated = await Promise.all(images.map(async (f) => ({ f, t: (await stat(join(out, f))).mtimeMs })));
  const newest = dated.sort((a, b) => b.t - a.t)[0];
  if (newest === undefined) throw new Error(`image/build.sh made no image in ${out}`);
  return join(out, newest.f);
}

/** Debian's u-boot-qemu for QEMU's arm64 `virt` machine: the firmware the full tests boot the image with. */
export const uBootQemu = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";

/** A journald drop-in that copies the journal to the serial console (the tests read logs there). */
export const consoleJournal = "[Journal]\nForwardToConsole=yes\n";

/**
 * QEMU's arguments for booting an image the way a Pi does, with U-Boot as the firmware: aarch64 `virt`, TCG, 2
 * vCPUs, 2 GiB, the image as the first virtio disk (U-Boot's distro boot finds boot.scr there), `drives` as
 * further virtio disks (raw), user networking when `network` (the guest reaches the host's loopback at 10.0.2.2).
 * `-no-reboot`: a reboot in the guest ends QEMU, and the test starts it again like the board's firmware would.
 */
export function qemuArgs(options: { disk: string; drives?: readonly string[]; network?: boolean }): string[] {
  const drives = [options.disk, ...(options.drives ?? [])].flatMap((file, i) => [
    "-drive",
    `file=${file},if=none,id=d${i},format=raw`,
    "-device",
    `virtio-blk-pci,drive=d${i}`,
  ]);
  return [
    ...["-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "2048", "-accel", "tcg,thread=multi"],
    ...["-bios", uBootQemu],
    ...drives,
    ...(options.network === true ? ["-nic", "user,model=virtio-net-pci"] : ["-nic", "none"]),
    "-nographic",
    "-no-reboot",
  ];
}

/** A partition of a disk image, as @avtech/provisioning's readPartitions gives it. */
export interface Partition {
  offsetBytes: number;
  sizeBytes: number;
}

/**
 * Runs debugfs `commands` (write, symlink, rm, mkdir …) on an ext4 partition of `disk` in place: the partition
 * is copied out to `scratch`, changed and copied back (sparse), with no mount.
 */
export async function addToPartition(
  disk: string,
  partition: Partition,
  scratch: string,
  commands: readonly string[],
): Promise<void> {
  const part = join(scratch, "partition.img");
  const script = join(scratch, "debugfs.cmd");
  await recipe(
    `dd if="$D" of="$P" bs=1M iflag=skip_bytes,count_bytes skip=${partition.offsetBytes} count=${partition.sizeBytes} conv=sparse status=none
     printf '%s\n' "$C" > "$S"
     out=$(debugfs -w -f "$S" "$P" 2>&1)
     # debugfs exits 0 whatever happens: anything beyond its banner, the echoed commands and "Allocated inode"
     # is an error.
     if printf '%s\n' "$out" | grep -v -e '^debugfs [0-9]' -e '^debugfs: ' -e '^Allocated inode: ' | grep -q .; then
       printf '%s\n' "$out" >&2
       exit 1
     fi
     dd if="$P" of="$D" bs=1M oflag=seek_bytes seek=${partition.offsetBytes} conv=notrunc,sparse status=none
     rm "$P" "$S"`,
    { D: disk, P: part, S: script, C: commands.join("\n") },
  );
}

/**
 * Slot A of `disk` (partition 2 at `slotA`): checks that its RAUC keyring is `keys`/ca.cert.pem (what the test
 * signs with or the control plane trusts) and that its /etc/avtech/os-release names `compatible`; returns its
 * AVTECH_OS_VERSION. `work` holds a temporary copy of the slot.
 */
export async function slotAVersion(
  disk: string,
  slotA: { offsetBytes: number; sizeBytes: number },
  work: string,
  keys: string,
  compatible: string,
): Promise<string> {
  const [keyring, osRelease = ""] = (
    await recipe(
      `dd if="$D" of="$W/a.img" bs=1M iflag=skip_bytes,count_bytes skip=${slotA.offsetBytes} count=${slotA.sizeBytes} conv=sparse status=none
       debugfs -R "cat /etc/rauc/keyring.pem" "$W/a.img" 2>/dev/null; echo "@@"
       debugfs -R "cat /etc/avtech/os-release" "$W/a.img" 2>/dev/null; rm "$W/a.img"`,
      { D: disk, W: work },
    )
  ).split("@@\n");
  if (keyring !== (await readFile(join(keys, "ca.cert.pem"), "utf8"))) {
    throw new Error(
      `the image's /etc/rauc/keyring.pem is not ${keys}/ca.cert.pem: set AVTECH_KEYS_DIR to the keys the image was built with`,
    );
  }
  if (!osRelease.includes(`AVTECH_RAUC_COMPATIBLE=${compatible}\n`)) {
    throw new Error(`the image's /etc/avtech/os-release does not name compatible ${compatible}: ${osRelease}`);
  }
  const version = /^AVTECH_OS_VERSION=(.+)$/m.exec(osRelease)?.[1];
  if (version === undefined)
    throw new Error(`the image's /etc/avtech/os-release names no AVTECH_OS_VERSION: ${osRelease}`);
  return version;
}
