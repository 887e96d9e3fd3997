/**
 * The boot test: the built disk image boots under QEMU (aarch64 `virt`, TCG, Debian's generic arm64 kernel and
 * initramfs read from the image's own boot partition) until systemd starts the player, which registers with a
 * stand-in DeviceService on the host and gets a pairing code; then a simulated hang of the player (SIGSTOP) is
 * caught by the systemd watchdog and the player is restarted and registers again.
 *
 * Uses AVTECH_IMAGE (a raw .img from `make image`) when set; otherwise runs image/build.sh up to the raw image
 * (the base stage is cached; a cold build takes ~20 min here).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DeviceService, type RegisterRequest } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBootPartition, processRunner, readPartitions, writeBootFiles } from "../../provisioning/src/index.ts";
import { imageDir, recipe } from "./helpers.ts";

const exec = promisify(execFile);

let work: string;
let disk: string;
let consoleLog: string;
let qemu: ChildProcess | undefined;
let server: http2.Http2Server;
const registrations: { at: number; request: RegisterRequest }[] = [];

async function builtImage(): Promise<string> {
  if (process.env.AVTECH_IMAGE !== undefined) return process.env.AVTECH_IMAGE;
  // The raw image is all the test needs: skip compression (publish).
  await exec(join(imageDir, "build.sh"), ["base", "app", "rootfs", "assemble"], { maxBuffer: 256 * 1024 * 1024 });
  const out = join(imageDir, "out");
  const images = (await readdir(out)).filter((f) => /^avtech-.*-debian-arm64\.img$/.test(f));
  const dated = await Promise.all(images.map(async (f) => ({ f, t: (await stat(join(out, f))).mtimeMs })));
  const newest = dated.sort((a, b) => b.t - a.t)[0];
  if (newest === undefined) throw new Error(`image/build.sh made no image in ${out}`);
  return join(out, newest.f);
}

/** The test-only hang: as soon as the player is up (READY=1), freeze it so it stops pinging the watchdog. */
const hangUnit = `[Unit]
Description=AVTech boot test: freeze the player once it runs
After=avtech-player.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'until systemctl is-active -q avtech-player.service; do sleep 1; done; pid=$(systemctl show -p MainPID --value avtech-player.service); echo "AVTECH-TEST: freezing the player (pid $pid)"; kill -STOP "$pid"'

[Install]
WantedBy=multi-user.target
`;

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (qemu?.exitCode !== null && qemu?.exitCode !== undefined && (await consoleText()).includes("QEMU boot 2")) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  const tail = (await readFile(consoleLog, "utf8").catch(() => "")).split("\n").slice(-60).join("\n");
  throw new Error(`timed out waiting for ${what}; serial console tail:\n${tail}`);
}

const consoleText = () => readFile(consoleLog, "utf8").catch(() => "");

beforeAll(async () => {
  const image = await builtImage();
  work = await mkdtemp(join(tmpdir(), "avtech-boot-"));
  disk = join(work, "disk.img");
  consoleLog = join(work, "console.log");
  await exec("cp", ["--sparse=always", image, disk]);
  // A bigger "card": the data partition must grow to fill it on first boot.
  await truncate(disk, (await stat(disk)).size + 1024 ** 3);

  server = http2.createServer(
    connectNodeAdapter({
      routes: (router) =>
        router.service(DeviceService, {
          register(request) {
            registrations.push({ at: Date.now(), request });
            return {
              outcome: {
                case: "pairing",
                value: {
                  pairingCode: "BCDFGHJK",
                  pairingSecret: "boot-test",
                  expiresAt: timestampFromDate(new Date(Date.now() + 15 * 60_000)),
                  pollIntervalSeconds: 5,
                },
              },
            };
          },
          completePairing() {
            return { outcome: { case: "waiting", value: {} } };
          },
        }),
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  // The site files, written the way installers do (no root, mtools). QEMU has no Pi display: mpv uses vo=null.
  await writeBootFiles(
    disk,
    [
      {
        name: "avtech.toml",
        content: `control_plane_url = "http://10.0.2.2:${port}"\npairing = true\nlog_level = "debug"\n[mpv]\nvo = "null"\n`,
      },
      { name: "avtech-system.toml", content: 'hostname = "boot-test-{serial}"\n' },
    ],
    processRunner,
  );
  // Kernel and initramfs come from the image's own boot partition.
  const bootDir = join(work, "boot");
  const partitions = await readPartitions(disk);
  const boot = findBootPartition(partitions);
  await recipe(
    `mkdir -p "$B" && mcopy -n -i "$D@@${boot.offsetBytes}" '::vmlinuz-*' '::initrd.img-*' "$B"/ && ls "$B"`,
    { B: bootDir, D: disk },
  );
  const files = await readdir(bootDir);
  const kernel = files.find((f) => f.startsWith("vmlinuz-"));
  const initrd = files.find((f) => f.startsWith("initrd.img-"));
  if (kernel === undefined || initrd === undefined) throw new Error(`no kernel/initrd on the boot partition: ${files}`);

  // Add the test-only hang unit to a copy of the root partition (debugfs, no mount).
  const root = partitions[1];
  if (root === undefined) throw new Error("no root partition");
  await writeFile(join(work, "hang.service"), hangUnit);
  await recipe(
    `dd if="$D" of="$W/root.img" bs=1M iflag=skip_bytes,count_bytes skip=${root.offsetBytes} count=${root.sizeBytes} status=none
     debugfs -w -R "write $W/hang.service /etc/systemd/system/avtech-test-hang.service" "$W/root.img"
     debugfs -w -R "symlink /etc/systemd/system/multi-user.target.wants/avtech-test-hang.service /etc/systemd/system/avtech-test-hang.service" "$W/root.img"
     dd if="$W/root.img" of="$D" bs=1M oflag=seek_bytes seek=${root.offsetBytes} conv=notrunc,sparse status=none
     rm "$W/root.img"`,
    { D: disk, W: work },
  );

  const log = createWriteStream(consoleLog);
  const args = [
    ...["-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "2048", "-accel", "tcg,thread=multi"],
    ...["-kernel", join(bootDir, kernel), "-initrd", join(bootDir, initrd)],
    ...["-append", "root=LABEL=ROOT ro console=ttyAMA0 systemd.journald.forward_to_console=1"],
    ...["-drive", `file=${disk},if=none,id=d0,format=raw`, "-device", "virtio-blk-pci,drive=d0"],
    ...["-nic", "user,model=virtio-net-pci", "-nographic", "-no-reboot"],
  ];
  // The first boot grows the data partition and reboots once; -no-reboot makes QEMU exit, so start it again
  // (like the board's firmware would) exactly once.
  const start = (boot: number) => {
    log.write(`\n=== AVTECH-TEST: QEMU boot ${boot} ===\n`);
    const child = spawn("qemu-system-aarch64", args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.on("exit", (code) => {
      if (boot === 1 && code === 0 && qemu === child) qemu = start(2);
    });
    return child;
  };
  qemu = start(1);
});

afterAll(async () => {
  qemu?.kill("SIGKILL");
  await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("the image booted under QEMU", () => {
  it("starts the player, which registers with the control plane and asks for pairing", async () => {
    const started = Date.now();
    await waitFor("the player's registration", () => registrations.length > 0, 15 * 60_000);
    const first = registrations[0]?.request;
    expect(first?.hardwareId).not.toBe("");
    expect(first?.enrollmentKey).toBe("");
    const text = await consoleText();
    expect(text).toContain("Started avtech-player.service");
    console.info(`boot test: registration ${Math.round((Date.now() - started) / 1000)} s after QEMU start`);
  });

  it("grew the data partition to fill the disk on first boot and mounted it after one reboot", async () => {
    const text = await consoleText();
    const firstBoot = text.slice(0, text.indexOf("AVTECH-TEST: QEMU boot 2"));
    const secondBoot = text.slice(text.indexOf("AVTECH-TEST: QEMU boot 2"));
    expect(firstBoot).toMatch(/CHANGED: partition=3/);
    expect(secondBoot).toMatch(/already fills/);
    expect(secondBoot).toContain("Finished systemd-growfs@var-lib-avtech.service");
    expect(secondBoot).toContain("Mounted var-lib-avtech.mount");
  });

  it("restarts the player through the systemd watchdog when it hangs", async () => {
    // Only the watchdog killing the very process that was frozen counts: under emulation the player can also
    // miss pings for other reasons (see image/README.md), which must not pass this by accident.
    const timeoutAfterFreeze = async () => {
      const text = await consoleText();
      const frozen = /AVTECH-TEST: freezing the player \(pid (\d+)\)/.exec(text);
      if (frozen === null) return false;
      const after = text.slice(frozen.index);
      const timeout = after.indexOf("avtech-player.service: Watchdog timeout");
      return timeout >= 0 && after.indexOf(`avtech-player.service: Killing process ${frozen[1]} `, timeout) > timeout;
    };
    await waitFor("the watchdog to catch the frozen player", timeoutAfterFreeze, 6 * 60_000);
    const caughtAt = Date.now();
    await waitFor(
      "the restarted player to register again",
      () => registrations.some((r) => r.at >= caughtAt),
      8 * 60_000,
    );
    expect(registrations.length).toBeGreaterThanOrEqual(2);
  });
});
