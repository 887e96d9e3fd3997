/**
 * The boot test: the built disk image boots under QEMU (aarch64 `virt`, TCG, Debian's u-boot-qemu as the
 * firmware, which runs the image's boot.scr and boots the kernel and initramfs of root slot A, as on a Pi) until
 * systemd starts the player, which registers with our real control plane on the host (PostgreSQL +
 * assembleControlPlane, reached from the guest through QEMU user networking at 10.0.2.2) and waits as pending
 * pairing; the test claims it by the code the player showed, through FleetService with an admin token, and sees it
 * connect; then a simulated hang of the player (SIGSTOP) is caught by the systemd watchdog, and the restarted
 * player connects again with its stored device token.
 *
 * Uses AVTECH_IMAGE (a raw .img from `make image`) when set; otherwise runs image/build.sh up to the raw image
 * (the base stage is cached; a cold build takes ~25 min here). The serial console transcript is kept in
 * test-artifacts/image/boot-console.log.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type RealControlPlane, startRealControlPlane } from "@avtech/control-plane/testing";
import { ConnectionState, FleetService, type Screen } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { processRunner, readPartitions, writeBootFiles } from "@avtech/provisioning";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoDir } from "./helpers.ts";
import { addToPartition, builtImage, consoleJournal, qemuArgs } from "./qemu.ts";

const exec = promisify(execFile);

/** Where the serial console transcript is kept after the run, pass or fail. */
const transcriptPath = join(repoDir, "test-artifacts/image/boot-console.log");

let work: string;
let disk: string;
let consoleLog: string;
let qemu: ChildProcess | undefined;
/** Set when QEMU ended other than by the planned reboot after the first boot: nothing more will come. */
let qemuEnded: string | undefined;
let cp: RealControlPlane;

/**
 * The test-only hang: once the player reports itself connected to the control plane (its status file, rewritten
 * every 5 s), let it run for three watchdog periods (WatchdogSec=30s), then freeze it so it stops pinging the
 * watchdog. Waiting for "connected" puts the hang after the claim; the grace shows a healthy player stays up.
 */
const healthyRunSeconds = 90;
const hangScript = `#!/bin/sh
until grep -qs '"state": "connected"' /var/lib/avtech/v1/status.json; do sleep 2; done
echo "AVTECH-TEST: the player is connected; freezing it in ${healthyRunSeconds} s"
sleep ${healthyRunSeconds}
pid=$(systemctl show -p MainPID --value avtech-player.service)
echo "AVTECH-TEST: freezing the player (pid $pid)"
kill -STOP "$pid"
`;
const hangUnit = `[Unit]
Description=AVTech boot test: freeze the player once it is connected
After=avtech-player.service

[Service]
Type=simple
ExecStart=/bin/sh /usr/local/sbin/avtech-test-hang

[Install]
WantedBy=multi-user.target
`;

/**
 * Watchdog limits for emulation: under TCG mpv answers its first IPC request after several seconds, so the
 * default 2 s limit would condemn every mpv and the player would never report healthy. The start timeout leaves
 * room under the unit's TimeoutStartSec (120 s) for the rest of start-up (slate rendering, reading state).
 */
const tcgWatchdog = "[watchdog]\nmpv_ipc_timeout_ms = 20000\nmpv_start_timeout_ms = 60000\nmpv_stall_ms = 60000\n";

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (qemuEnded !== undefined) {
      const tail = (await consoleText()).split("\n").slice(-60).join("\n");
      throw new Error(`${qemuEnded} while waiting for ${what}; serial console tail:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  const tail = (await consoleText()).split("\n").slice(-60).join("\n");
  throw new Error(`timed out waiting for ${what}; serial console tail:\n${tail}`);
}

const consoleText = () => readFile(consoleLog, "utf8").catch(() => "");

interface PairingRow {
  code: string;
  hardware_id: string;
  claimed_screen_id: string | null;
}

/** The newest pairing registration the control plane holds (no RPC lists them: they belong to no tenant yet). */
async function newestPairing(): Promise<PairingRow | undefined> {
  const rows = await cp.query<PairingRow>(
    "SELECT code, hardware_id, claimed_screen_id FROM pairing_codes ORDER BY created_at DESC LIMIT 1",
  );
  return rows[0];
}

/** Pairing codes the player logged for the screen ("showing the pairing code"), oldest first. */
async function shownPairingCodes(): Promise<string[]> {
  return [...(await consoleText()).matchAll(/"pairingCode":"([A-Z]{4}-?[A-Z]{4})"/g)].map((m) =>
    (m[1] as string).replace("-", ""),
  );
}

let claimed: Screen | undefined;

async function screenNow(): Promise<Screen | undefined> {
  if (claimed === undefined) return undefined;
  return (await cp.client(FleetService, cp.adminToken).getScreen({ id: claimed.id })).screen;
}

beforeAll(async () => {
  const image = await builtImage();
  work = await mkdtemp(join(tmpdir(), "avtech-boot-"));
  disk = join(work, "disk.img");
  consoleLog = join(work, "console.log");
  await exec("cp", ["--sparse=always", image, disk]);
  // A bigger "card": the data partition must grow to fill it on first boot.
  await truncate(disk, (await stat(disk)).size + 1024 ** 3);

  // QEMU's user network forwards the guest's 10.0.2.2 to the host's loopback.
  cp = await startRealControlPlane({ host: "127.0.0.1" });

  // The site files, written the way installers do (no root, mtools). QEMU has no Pi display: mpv uses vo=null.
  await writeBootFiles(
    disk,
    [
      {
        name: "avtech.toml",
        content: `control_plane_url = "http://10.0.2.2:${cp.addresses.port}"\npairing = true\n[mpv]\nvo = "null"\n${tcgWatchdog}`,
      },
      { name: "avtech-system.toml", content: 'hostname = "boot-test-{serial}"\n' },
    ],
    processRunner,
  );
  // Add the test-only hang unit and its script to a copy of slot A (debugfs, no mount), and let journald copy the
  // player's log to the serial console (the boot test reads the pairing code there).
  const partitions = await readPartitions(disk);
  const slotA = partitions[1];
  if (slotA === undefined) throw new Error("no root slot A (partition 2)");
  await writeFile(join(work, "hang.service"), hangUnit);
  await writeFile(join(work, "hang.sh"), hangScript);
  await writeFile(join(work, "journald.conf"), consoleJournal);
  await addToPartition(disk, slotA, work, [
    `write ${work}/hang.service /etc/systemd/system/avtech-test-hang.service`,
    `write ${work}/hang.sh /usr/local/sbin/avtech-test-hang`,
    "symlink /etc/systemd/system/multi-user.target.wants/avtech-test-hang.service /etc/systemd/system/avtech-test-hang.service",
    `write ${work}/journald.conf /etc/systemd/journald.conf.d/avtech-test-console.conf`,
  ]);

  const log = createWriteStream(consoleLog);
  const args = qemuArgs({ disk, network: true });
  // The first boot grows the data partition and reboots once; -no-reboot makes QEMU exit, so start it again
  // (like the board's firmware would) exactly once.
  const start = (boot: number) => {
    log.write(`\n=== AVTECH-TEST: QEMU boot ${boot} ===\n`);
    const child = spawn("qemu-system-aarch64", args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.on("exit", (code, signal) => {
      if (qemu !== child) return;
      if (boot === 1 && code === 0) qemu = start(2);
      else qemuEnded = `QEMU (boot ${boot}) exited with code ${code}, signal ${signal}`;
    });
    return child;
  };
  qemu = start(1);
});

afterAll(async () => {
  const child = qemu;
  qemu = undefined;
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
  if (consoleLog !== undefined) {
    await mkdir(join(transcriptPath, ".."), { recursive: true });
    await copyFile(consoleLog, transcriptPath).catch(() => undefined);
  }
  await cp?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe("the image booted under QEMU against the real control plane", () => {
  it("starts the player, which registers and shows up as pending pairing with the code it shows", async () => {
    const started = Date.now();
    let pending: PairingRow | undefined;
    await waitFor(
      "the player's pairing registration",
      async () => {
        pending = await newestPairing();
        return pending !== undefined && (await shownPairingCodes()).includes(pending.code);
      },
      15 * 60_000,
    );
    expect(pending?.hardware_id).not.toBe("");
    expect(pending?.claimed_screen_id).toBeNull();
    // Pending screens belong to no tenant: the fleet lists nothing until the claim.
    expect((await cp.client(FleetService, cp.adminToken).listScreens({})).screens).toEqual([]);
    expect(await consoleText()).toContain("Started avtech-player.service");
    console.info(`boot test: pairing code shown ${Math.round((Date.now() - started) / 1000)} s after QEMU start`);
  });

  it("is claimed with its pairing code through FleetService and connects", async () => {
    const code = (await shownPairingCodes()).at(-1) ?? "";
    const pending = await newestPairing();
    const fleet = cp.client(FleetService, cp.adminToken);
    claimed = (await fleet.claimScreen({ pairingCode: code, name: "QEMU boot test" })).screen;
    expect(claimed?.hardwareId).toBe(pending?.hardware_id);
    const claimedAt = Date.now();
    await waitFor(
      "the claimed screen to connect",
      async () => (await screenNow())?.connection === ConnectionState.ONLINE,
      5 * 60_000,
    );
    const screen = await screenNow();
    expect(screen?.playerVersion).not.toBe("");
    expect((await fleet.listScreens({})).screens.map((s) => s.id)).toEqual([claimed?.id]);
    console.info(`boot test: connected ${Math.round((Date.now() - claimedAt) / 1000)} s after the claim`);
  });

  it("booted root slot A through U-Boot and boot.scr, by PARTUUID, both times", async () => {
    const text = await consoleText();
    expect(text.match(/^AVTech: booting slot A \(partition 2\)/gm)).toHaveLength(2);
    expect(text).not.toMatch(/^AVTech: booting slot B/m);
    expect(text.match(/Kernel command line: .*root=PARTUUID=41565445-02 rootwait ro rauc\.slot=A/g)).toHaveLength(2);
  });

  it("grew the data partition to fill the disk on first boot and mounted it after one reboot", async () => {
    const text = await consoleText();
    const firstBoot = text.slice(0, text.indexOf("AVTECH-TEST: QEMU boot 2"));
    const secondBoot = text.slice(text.indexOf("AVTECH-TEST: QEMU boot 2"));
    expect(firstBoot).toMatch(/CHANGED: partition=4/);
    expect(secondBoot).toMatch(/already fills/);
    expect(secondBoot).toContain("Finished systemd-growfs@var-lib-avtech.service");
    expect(secondBoot).toContain("Mounted var-lib-avtech.mount");
  });

  it("keeps a healthy player up under emulation with the watchdog limits from avtech.toml", async () => {
    const frozenPid = async () => /AVTECH-TEST: freezing the player \(pid (\d+)\)/.exec(await consoleText())?.[1];
    await waitFor("the test's freeze of the player", async () => (await frozenPid()) !== undefined, 5 * 60_000);
    const text = await consoleText();
    const beforeFreeze = text.slice(0, text.indexOf("AVTECH-TEST: freezing the player"));
    // The process that showed the pairing code is the one frozen after its healthy run: it was never restarted.
    const pairingPids = [...beforeFreeze.matchAll(/"pid":(\d+),[^\n]*"msg":"showing the pairing code"/g)].map(
      (m) => m[1],
    );
    expect(pairingPids.at(-1)).toBe(await frozenPid());
    expect(beforeFreeze).not.toContain("avtech-player.service: Watchdog timeout");
    expect(beforeFreeze).not.toContain("avtech-player.service: Scheduled restart job");
    expect(beforeFreeze).not.toContain("mpv is unhealthy");
  });

  it("restarts the player through the systemd watchdog when it hangs, and it connects again", async () => {
    // Only the watchdog killing the very process that was frozen counts.
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
      "the restarted player to connect again",
      async () => {
        const screen = await screenNow();
        const seen = screen?.lastSeenAt === undefined ? 0 : timestampDate(screen.lastSeenAt).getTime();
        return screen?.connection === ConnectionState.ONLINE && seen > caughtAt;
      },
      8 * 60_000,
    );
    console.info(`boot test: connected again ${Math.round((Date.now() - caughtAt) / 1000)} s after the watchdog kill`);
  });
});
