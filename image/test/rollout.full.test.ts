/**
 * The whole OTA path with real parts: the built image boots under QEMU (U-Boot `-bios`, as in boot.full and
 * ota.full) and runs the REAL player, which talks to the REAL control plane on the host (startRealControlPlane:
 * PostgreSQL, assembleControlPlane, reached from the guest at 10.0.2.2). The control plane trusts the image's
 * keyring (image/keys/dev, checked first) and its compatible, as a fleet's would.
 *
 * 1. v1 (the image) boots, registers, is claimed through FleetService and plays a published clip;
 * 2. a v2 bundle (the image's own root with another AVTECH_OS_VERSION, made by `make update-bundle`'s function) is
 *    uploaded through UpdateService.UploadRelease and rolled out to the screen with reboot policy NOW; the power
 *    is cut (QEMU killed) twice on the way, as a screen's would be:
 *    a. in the middle of the download from /bundles/<sha256>: slot A boots again, plays, and the player resumes
 *       the download with a Range request from the bytes that reached the disk;
 *    b. in the middle of `rauc install`, while RAUC writes slot B: slot A boots again (RAUC had not made B the
 *       next boot), plays, and the player runs the install again;
 *    then the install completes and the player asks for the reboot; QEMU ends (-no-reboot) and the test starts it
 *    again, as the board's firmware would; slot B boots, the player passes its health gate, marks the slot good
 *    and reports HEALTHY; Hello says v2 and slot B, and the clip plays again;
 * 3. a v3 bundle whose player unit cannot start (its ExecStart names a missing file) is rolled out: the screen
 *    installs it into slot A and reboots into it; no player runs there, so the image's backstop
 *    (avtech-update-deadline.timer, shortened here for emulation) reboots each boot of it, U-Boot spends slot A's
 *    three tries and boots slot B again, the player there reports ROLLED_BACK and the rollout pauses on its
 *    failure threshold;
 * 4. a REBOOT command: the boot after it starts slot B, which the player put first in BOOT_ORDER after the
 *    rollback; once healthy the player marks B good, so a second REBOOT finds B with all its tries again. Nothing in this is done by the test but uploading, creating the rollouts, the power cuts and the
 *    command.
 *
 * Uses AVTECH_IMAGE (a raw .img from `make image`) when set; otherwise runs image/build.sh up to the raw image.
 * Measured numbers are printed (console.info) and the serial console transcript is kept in
 * test-artifacts/image/rollout-console.log.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type RealControlPlane, startRealControlPlane } from "@avtech/control-plane/testing";
import {
  ContentService,
  type UploadVideoRequest,
  UploadVideoRequestSchema,
} from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { CommandKind } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { RebootPolicy, UpdateFailureReason, UpdatePhase } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { ConnectionState, FleetService, type Screen } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import {
  PauseReason,
  type Release,
  RolloutState,
  type ScreenUpdate,
  UpdateService,
  type UploadReleaseRequest,
  UploadReleaseRequestSchema,
} from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { processRunner, readPartitions, writeBootFiles } from "@avtech/provisioning";
import { create, type DescService } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageDir, recipe, repoDir } from "./helpers.ts";
import { addToPartition, builtImage, consoleJournal, qemuArgs, slotAVersion } from "./qemu.ts";

const transcriptPath = join(repoDir, "test-artifacts/image/rollout-console.log");
const keys = process.env.AVTECH_KEYS_DIR ?? join(imageDir, "keys/dev");
const compatible = "avtech-rpi-arm64-debian";
const v2 = "rollout-test-v2";
const v3 = "rollout-test-v3-no-player";
/** Each step waits for a boot or two under TCG on 2 shared cores (2–5 min each, more under load). */
const stepTimeout = 60 * 60_000;
/** The rollback waits for four boots, three of them until the backstop's 7 min. */
const rollbackTimeout = 100 * 60_000;

/**
 * Emulation limits: mpv answers its first IPC request after seconds under TCG (boot.full.test.ts), and the whole
 * boot-to-playing path is slower than on a Pi, so the health gate gets 15 min instead of 5.
 */
const siteToml = (port: number) => `control_plane_url = "http://10.0.2.2:${port}"
pairing = true
[mpv]
vo = "null"
[watchdog]
mpv_ipc_timeout_ms = 20000
mpv_start_timeout_ms = 60000
mpv_stall_ms = 60000
[update]
health_deadline_seconds = 900
`;

let work: string;
let disk: string;
let consoleLog: string;
let log: WriteStream;
let cp: RealControlPlane;
/** AVTECH_OS_VERSION of the image's own root. */
let imageVersion = "";
/** The bundles, made while the first boots run. */
let bundlesMade: Promise<{ good: string; broken: string }>;

/** One QEMU run = one boot. */
interface Boot {
  n: number;
  startedAt: number;
  endedAt?: number;
  how?: string;
}
const boots: Boot[] = [];
let qemu: ChildProcess | undefined;
/** Set when QEMU ended other than by a guest reboot (an error exit): nothing more will come. */
let qemuFailed: string | undefined;
let stopping = false;

/**
 * Starts the next boot. A guest reboot ends QEMU with code 0 (-no-reboot) and the next boot starts at once, as
 * the board's firmware would.
 */
function startBoot(): void {
  const boot: Boot = { n: boots.length + 1, startedAt: Date.now() };
  boots.push(boot);
  log.write(`\n=== AVTECH-TEST: QEMU boot ${boot.n} ===\n`);
  const child = spawn("qemu-system-aarch64", qemuArgs({ disk, network: true }), { stdio: ["ignore", "pipe", "pipe"] });
  qemu = child;
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.on("exit", (code, signal) => {
    boot.endedAt = Date.now();
    boot.how = `code ${code}, signal ${signal}`;
    console.info(
      `rollout test: boot ${boot.n} ran ${Math.round((boot.endedAt - boot.startedAt) / 1000)} s (${boot.how})`,
    );
    if (qemu !== child || stopping) return;
    qemu = undefined;
    if (code === 0) startBoot();
    else qemuFailed = `QEMU (boot ${boot.n}) exited with ${boot.how}`;
  });
}

/** Cuts the power: QEMU is killed (SIGKILL, nothing in the guest runs after it) and the next boot starts. */
async function powerCut(): Promise<void> {
  const child = qemu;
  if (child === undefined || child.exitCode !== null) throw new Error("no QEMU is running to cut the power of");
  // Taken out of the exit handler's view first: this exit is ours, not a guest reboot or a failure.
  qemu = undefined;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
  log.write(`\n=== AVTECH-TEST: power cut (QEMU killed) ===\n`);
  startBoot();
}

const consoleText = () => readFile(consoleLog, "utf8").catch(() => "");

/** The console text of boot `n` so far. */
async function bootText(n: number): Promise<string> {
  const text = await consoleText();
  const start = text.indexOf(`=== AVTECH-TEST: QEMU boot ${n} ===`);
  if (start < 0) return "";
  const end = text.indexOf(`=== AVTECH-TEST: QEMU boot ${n + 1} ===`);
  return text.slice(start, end < 0 ? undefined : end);
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (qemuFailed !== undefined) throw new Error(`${qemuFailed} while waiting for ${what}${await tail()}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`timed out waiting for ${what}${await tail()}`);
}

const tail = async () => `; serial console tail:\n${(await consoleText()).split("\n").slice(-60).join("\n")}`;

/** A client over gRPC (HTTP/2): uploads are client streams, which Connect over HTTP/1.1 cannot carry. */
function grpc<S extends DescService>(service: S): Client<S> {
  return createClient(
    service,
    createGrpcTransport({
      baseUrl: cp.addresses.http2Url,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${cp.adminToken}`);
          return next(req);
        },
      ],
    }),
  );
}

/** A file's bytes in 1 MiB chunks, for the upload streams (UploadVideo, UploadRelease). */
async function* chunks(path: string): AsyncGenerator<Buffer> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
}

async function* videoParts(path: string, fileName: string): AsyncGenerator<UploadVideoRequest> {
  yield create(UploadVideoRequestSchema, { part: { case: "metadata", value: { fileName } } });
  for await (const chunk of chunks(path))
    yield create(UploadVideoRequestSchema, { part: { case: "chunk", value: chunk } });
}

async function* releaseParts(path: string, sizeBytes: number, notes: string): AsyncGenerator<UploadReleaseRequest> {
  yield create(UploadReleaseRequestSchema, {
    part: { case: "metadata", value: { sizeBytes: BigInt(sizeBytes), notes } },
  });
  for await (const chunk of chunks(path)) {
    yield create(UploadReleaseRequestSchema, { part: { case: "chunk", value: chunk } });
  }
}

let screen: Screen | undefined;
let videoId = "";
/** The v2 rollout, created by the power-cut steps and finished by the next. */
let v2Rollout = { id: "", createdAt: 0, bundleBytes: 0, secondInstallSeenAt: 0 };

async function screenNow(): Promise<Screen> {
  const found = (await cp.client(FleetService, cp.adminToken).getScreen({ id: screen?.id ?? "" })).screen;
  if (found === undefined) throw new Error("the screen is gone");
  return found;
}

/**
 * When the first clip the screen played after `since` started (its proof-of-play events, the device's clock), or
 * undefined before the control plane has one. Playback status alone could be a value kept from before a reboot.
 */
async function firstPlaySince(since: number): Promise<number | undefined> {
  const rows = await cp.query<{ first: Date | null }>(
    "SELECT min(started_at) AS first FROM play_events WHERE screen_id = $1 AND started_at > $2",
    [screen?.id, new Date(since)],
  );
  return rows[0]?.first?.getTime() ?? undefined;
}

/** The screen is online on a stream whose Hello named `version` and `slot`, and plays the test's clip. */
async function playingOn(version: string, slot: string): Promise<boolean> {
  const s = await screenNow();
  return (
    s.connection === ConnectionState.ONLINE &&
    s.imageVersion === version &&
    s.bootedSlot === slot &&
    s.playback?.state === PlaybackState.PLAYING &&
    s.playback.videoId === videoId
  );
}

/** The screen's row in a rollout. */
async function rolloutScreen(rolloutId: string): Promise<ScreenUpdate | undefined> {
  return (await cp.client(UpdateService, cp.adminToken).listRolloutScreens({ rolloutId })).screens[0];
}

/** When the screen entered each phase of a rollout (its history, which the control plane keeps per phase change). */
async function phaseTimes(rolloutId: string): Promise<Map<UpdatePhase, number>> {
  const { updates } = await cp.client(UpdateService, cp.adminToken).listScreenUpdates({ screenId: screen?.id ?? "" });
  const times = new Map<UpdatePhase, number>();
  for (const u of updates) {
    if (u.rolloutId !== rolloutId || u.updatedAt === undefined) continue;
    const t = timestampDate(u.updatedAt).getTime();
    // Newest first: the earliest entry of a phase is its start.
    times.set(u.phase, Math.min(t, times.get(u.phase) ?? t));
  }
  return times;
}

/** The player's JSON log lines in boot `n` with message `msg` (the journal copies them to the serial console). */
async function playerLines(n: number, msg: string): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  for (const line of (await bootText(n)).split("\n")) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    try {
      found.push(JSON.parse(line.slice(line.indexOf("{"))) as Record<string, unknown>);
    } catch {
      // A line a kernel message broke in two on the shared serial console: counted as not seen.
    }
  }
  return found;
}

/** The slot the player of boot `n` logged it marked good once healthy (confirmRunningSlot), or undefined. */
async function markedGood(n: number): Promise<string | undefined> {
  const [line] = await playerLines(n, "healthy: the running slot is marked good");
  return line === undefined ? undefined : String(line.slot);
}

/**
 * After a power cut: the next boot that starts a slot starts slot A again (v1), which plays the clip. Returns that
 * boot's number. Boots before it may only be U-Boot's reset when no slot has a try left: every boot of slot A
 * spends one, and only a player that became healthy on that boot gives it back (image/README.md), so cuts that
 * come before that use them up.
 */
async function backOnSlotA(what: string): Promise<number> {
  const first = boots.length;
  let booted = 0;
  await waitFor(
    `a slot to boot after the power cut ${what}`,
    async () => {
      for (let n = first; n <= boots.length; n++) {
        if (/AVTech: booting slot/.test(await bootText(n))) {
          booted = n;
          return true;
        }
      }
      return false;
    },
    15 * 60_000,
  );
  for (let n = first; n < booted; n++) expect(await bootText(n)).toMatch(/AVTech: no slot has a try left/);
  expect(await bootText(booted)).toMatch(/AVTech: booting slot A/);
  await waitFor(`the clip to play on v1 after the power cut ${what}`, () => playingOn(imageVersion, "A"), 30 * 60_000);
  return booted;
}

async function uploadRelease(path: string, notes: string): Promise<Release> {
  const { size } = await stat(path);
  const { release } = await grpc(UpdateService).uploadRelease(releaseParts(path, size, notes));
  if (release === undefined) throw new Error("UploadRelease returned no release");
  return release;
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

beforeAll(async () => {
  const image = await builtImage();
  work = await mkdtemp(join(repoDir, "test-artifacts/.rollout-"));
  disk = join(work, "disk.img");
  consoleLog = join(work, "console.log");
  log = createWriteStream(consoleLog);
  await recipe(`cp --sparse=always "$S" "$D"`, { S: image, D: disk });
  // A bigger "card": the data partition grows on first boot and holds the 400 MiB bundles the player downloads.
  await truncate(disk, (await stat(disk)).size + 3 * 1024 ** 3);
  const slotA = (await readPartitions(disk))[1];
  if (slotA === undefined) throw new Error("no root slot A (partition 2)");

  // The control plane must trust exactly what the image trusts.
  imageVersion = await slotAVersion(disk, slotA, work, keys, compatible);

  cp = await startRealControlPlane({
    host: "127.0.0.1",
    update: { compatible, keyringPath: join(keys, "ca.cert.pem") },
  });
  await writeBootFiles(
    disk,
    [
      { name: "avtech.toml", content: siteToml(cp.addresses.port) },
      { name: "avtech-system.toml", content: 'hostname = "rollout-test-{serial}"\n' },
    ],
    processRunner,
  );
  // In slot A and so in every bundle made from it: the journal on the serial console (the test reads the
  // player's and systemd's lines there), and the update backstop after 7 min instead of 10: a boot under TCG
  // takes ~2 min to start the player, which takes charge of a new slot within seconds of starting.
  await writeFile(join(work, "journald.conf"), consoleJournal);
  await writeFile(join(work, "deadline.conf"), "[Timer]\nOnBootSec=\nOnBootSec=7min\n");
  await addToPartition(disk, slotA, work, [
    `write ${work}/journald.conf /etc/systemd/journald.conf.d/avtech-test-console.conf`,
    "mkdir /etc/systemd/system/avtech-update-deadline.timer.d",
    `write ${work}/deadline.conf /etc/systemd/system/avtech-update-deadline.timer.d/avtech-test.conf`,
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

  startBoot();
  // The bundles take minutes of CPU; the first boots (growth, reboot, start-up) take as long, so both run at once.
  bundlesMade = (async () => {
    const started = Date.now();
    const unit = await recipe(`debugfs -R "cat /etc/systemd/system/avtech-player.service" "$R" 2>/dev/null`, {
      R: root,
    });
    expect(unit).toMatch(/^ExecStart=\/opt\/avtech\/node\/bin\/node /m);
    const good = await bundle(root, "good", v2, []);
    // The player's unit names a program that is not there: systemd fails to start it (203/EXEC), again and again.
    await writeFile(
      join(work, "broken.service"),
      unit.replace(/^ExecStart=.*$/m, "ExecStart=/opt/avtech/player/missing-avtech-player run"),
    );
    const broken = await bundle(root, "broken", v3, [
      "rm /etc/systemd/system/avtech-player.service",
      `write ${work}/broken.service /etc/systemd/system/avtech-player.service`,
    ]);
    await rm(root);
    console.info(`rollout test: two bundles made in ${seconds(Date.now() - started)}`);
    return { good, broken };
  })();
  // Not awaited here: a failure surfaces in the test that needs the bundles.
  bundlesMade.catch(() => undefined);
}, 60 * 60_000);

/** A signed bundle of `root` with AVTECH_OS_VERSION=`version` and the extra debugfs `changes`. */
async function bundle(root: string, name: string, version: string, changes: string[]): Promise<string> {
  const img = join(work, `${name}.ext4`);
  const out = join(work, `${name}.raucb`);
  await recipe(`cp --sparse=always "$R" "$I"`, { R: root, I: img });
  await writeFile(
    join(work, `${name}.os-release`),
    `AVTECH_OS_VERSION=${version}\nAVTECH_RAUC_COMPATIBLE=${compatible}\n`,
  );
  await addToPartition(img, { offsetBytes: 0, sizeBytes: (await stat(img)).size }, work, [
    "rm /etc/avtech/os-release",
    `write ${work}/${name}.os-release /etc/avtech/os-release`,
    ...changes,
  ]);
  await recipe(`build_update_bundle "$I" "$O" "$C" "$V" "$K/signing.cert.pem" "$K/signing.key.pem" "$K/ca.cert.pem"`, {
    I: img,
    O: out,
    C: compatible,
    V: version,
    K: keys,
    AVTECH_PACKAGE_SOURCE: "debian",
  });
  await rm(img);
  return out;
}

afterAll(async () => {
  stopping = true;
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
  await bundlesMade?.catch(() => undefined);
  await cp?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
}, 10 * 60_000);

describe("OTA rollouts with the real player under QEMU and the real control plane", () => {
  it(
    "v1 registers, is claimed and plays published content",
    async () => {
      const started = Date.now();
      const pending = async () =>
        (
          await cp.query<{ code: string }>(
            "SELECT code FROM pairing_codes WHERE claimed_screen_id IS NULL ORDER BY created_at DESC LIMIT 1",
          )
        )[0]?.code;
      const shown = async () =>
        [...(await consoleText()).matchAll(/"pairingCode":"([A-Z]{4}-?[A-Z]{4})"/g)].map((m) =>
          (m[1] as string).replace("-", ""),
        );
      await waitFor(
        "the player's pairing code",
        async () => {
          const code = await pending();
          return code !== undefined && (await shown()).includes(code);
        },
        30 * 60_000,
      );
      const fleet = cp.client(FleetService, cp.adminToken);
      screen = (await fleet.claimScreen({ pairingCode: (await pending()) ?? "", name: "QEMU rollout test" })).screen;
      expect(screen?.id).toBeTruthy();
      console.info(`rollout test: pairing code shown ${seconds(Date.now() - started)} after QEMU started`);

      // A 6 s clip, published as the tenant's default playlist.
      const clip = join(work, "clip.mp4");
      await recipe(
        `ffmpeg -v error -f lavfi -i testsrc=size=320x240:rate=10:duration=6 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart "$O"`,
        { O: clip },
      );
      const { video } = await grpc(ContentService).uploadVideo(videoParts(clip, "rollout-test.mp4"));
      videoId = video?.id ?? "";
      expect(videoId).not.toBe("");
      const schedule = grpc(ScheduleService);
      const { playlist } = await schedule.createPlaylist({ name: "Rollout test", videoIds: [videoId] });
      await schedule.setDefaultPlaylist({
        target: { kind: { case: "wholeTenant", value: true } },
        playlistId: playlist?.id ?? "",
      });
      const published = Date.now();
      await grpc(PublishService).publish({});
      await waitFor("the clip to play on v1", () => playingOn(imageVersion, "A"), 20 * 60_000);
      console.info(`rollout test: v1 plays the clip ${seconds(Date.now() - published)} after the publish`);
      await waitFor(
        "a proof-of-play event from v1",
        async () => (await firstPlaySince(started)) !== undefined,
        10 * 60_000,
      );
      const s = await screenNow();
      expect(s.imageVersion).toBe(imageVersion);
      expect(s.bootedSlot).toBe("A");
      await waitFor("the player to mark slot A good", async () => (await markedGood(boots.length)) === "A", 5 * 60_000);
    },
    stepTimeout,
  );

  it(
    "a power cut in the middle of the v2 download: slot A boots, plays, and the download resumes",
    async () => {
      const { good } = await bundlesMade;
      const bundleBytes = (await stat(good)).size;
      const release = await uploadRelease(good, "rollout test v2");
      expect(release.version).toBe(v2);
      expect(release.compatible).toBe(compatible);
      const { rollout } = await cp.client(UpdateService, cp.adminToken).createRollout({
        releaseId: release.id,
        targets: [{ kind: { case: "screenId", value: screen?.id ?? "" } }],
        wavePercents: [100],
        rebootPolicy: RebootPolicy.NOW,
      });
      v2Rollout = { id: rollout?.id ?? "", createdAt: Date.now(), bundleBytes, secondInstallSeenAt: 0 };
      let reported = 0n;
      await waitFor(
        "a quarter of the bundle downloaded",
        async () => {
          const row = await rolloutScreen(v2Rollout.id);
          if (row !== undefined && row.phase > UpdatePhase.DOWNLOADING) {
            throw new Error(`the download ended (phase ${UpdatePhase[row.phase]}) before the test could cut it`);
          }
          reported = row?.phase === UpdatePhase.DOWNLOADING ? row.bytesDone : 0n;
          return reported * 4n >= BigInt(bundleBytes);
        },
        30 * 60_000,
      );
      expect((await rolloutScreen(v2Rollout.id))?.phase).toBe(UpdatePhase.DOWNLOADING);
      const cutBoot = boots.length;
      await powerCut();
      const n = await backOnSlotA("during the download");
      await waitFor(
        "the download to go on",
        async () => (await playerLines(n, "bundle download resumed")).length > 0,
        10 * 60_000,
      );
      const offset = Number((await playerLines(n, "bundle download resumed"))[0]?.offset);
      // What reached the disk before the cut: progress is reported every 5 s and bytes still in the guest's page
      // cache are lost (fetched again), so it may be above or below the last report, but never zero or the whole.
      expect(offset).toBeGreaterThan(0);
      expect(offset).toBeLessThan(bundleBytes);
      expect(await playerLines(n, "bundle download started")).toEqual([]);
      expect(await playerLines(cutBoot, "bundle download started")).toHaveLength(1);
      console.info(
        `rollout test: power cut during the download at ${reported} of ${bundleBytes} bytes reported; ` +
          `the next boot resumed at ${offset} bytes`,
      );
    },
    stepTimeout,
  );

  it(
    "a power cut in the middle of rauc install: slot A boots, plays, and the install runs again",
    async () => {
      await waitFor(
        "INSTALLING",
        async () => (await rolloutScreen(v2Rollout.id))?.phase === UpdatePhase.INSTALLING,
        30 * 60_000,
      );
      const cutBoot = boots.length;
      // RAUC marks slot B bad, then writes it for a minute or more under TCG: the cut lands inside the write.
      await waitFor(
        "RAUC writing slot B",
        async () => /writing data to device \/dev\/disk\/by-partuuid\/41565445-03/.test(await bootText(cutBoot)),
        10 * 60_000,
      );
      await new Promise((r) => setTimeout(r, 8_000));
      expect(boots.length).toBe(cutBoot);
      expect((await rolloutScreen(v2Rollout.id))?.phase).toBe(UpdatePhase.INSTALLING);
      expect(await bootText(cutBoot)).not.toMatch(/Starting avtech-reboot\.service/);
      await powerCut();
      const n = await backOnSlotA("during the install");
      await waitFor("rauc install again", async () => (await playerLines(n, "rauc install")).length > 0, 20 * 60_000);
      v2Rollout.secondInstallSeenAt = Date.now();
      expect((await playerLines(n, "rauc install"))[0]?.attempt).toBe(2);
      console.info("rollout test: power cut during rauc install; the next boot ran slot A and installed again");
    },
    stepTimeout,
  );

  it(
    "installs v2 through a rollout, reboots into slot B, confirms it and plays again",
    async () => {
      const { id: rolloutId, createdAt: created, bundleBytes } = v2Rollout;
      expect(rolloutId).not.toBe("");
      const updates = cp.client(UpdateService, cp.adminToken);
      const bootsBefore = boots.length;
      // The player asks for the reboot: the guest reboots and QEMU ends, which starts the next boot.
      await waitFor("the reboot into the new slot", () => boots.length > bootsBefore, 40 * 60_000);
      const rebootedAt = boots[bootsBefore - 1]?.endedAt ?? Date.now();
      const installBoot = await bootText(bootsBefore);
      expect(installBoot).toMatch(/Starting avtech-reboot\.service/);
      await waitFor(
        "slot B to boot",
        async () => /AVTech: booting slot B/.test(await bootText(bootsBefore + 1)),
        10 * 60_000,
      );
      await waitFor("the clip to play on v2 in slot B", () => playingOn(v2, "B"), 30 * 60_000);
      const playingAt = Date.now();
      await waitFor(
        "HEALTHY with v2",
        async () => (await rolloutScreen(rolloutId))?.phase === UpdatePhase.HEALTHY,
        20 * 60_000,
      );
      let playedAgainAt: number | undefined;
      await waitFor(
        "a proof-of-play event from v2",
        async () => {
          playedAgainAt = await firstPlaySince(rebootedAt);
          return playedAgainAt !== undefined;
        },
        10 * 60_000,
      );
      const newBoot = await bootText(bootsBefore + 1);
      expect(newBoot).toMatch(/Kernel command line: .*root=PARTUUID=41565445-03 rootwait ro rauc\.slot=B/);
      const s = await screenNow();
      expect(s.imageVersion).toBe(v2);
      expect(s.bootedSlot).toBe("B");
      const done = (await updates.getRollout({ rolloutId })).rollout;
      expect(done?.state).toBe(RolloutState.COMPLETED);

      const times = await phaseTimes(rolloutId);
      const downloading = times.get(UpdatePhase.DOWNLOADING) ?? Number.NaN;
      const installing = times.get(UpdatePhase.INSTALLING) ?? Number.NaN;
      const rebooting = times.get(UpdatePhase.REBOOTING) ?? Number.NaN;
      const healthy = times.get(UpdatePhase.HEALTHY) ?? Number.NaN;
      // Two power cuts came before: the download spans one (and the boot after it); the install figure is the
      // attempt that finished, from when the test saw it start (polling every 2 s).
      console.info(
        `rollout test: bundle ${bundleBytes} bytes (${(bundleBytes / 1024 ** 2).toFixed(0)} MiB); rollout created → ` +
          `DOWNLOADING ${seconds(downloading - created)}, download with one power cut ${seconds(installing - downloading)}, ` +
          `second install ${seconds(rebooting - v2Rollout.secondInstallSeenAt)}, REBOOTING → QEMU ended ${seconds(rebootedAt - rebooting)}, ` +
          `reboot → first clip started again ${seconds((playedAgainAt ?? Number.NaN) - rebootedAt)} ` +
          `(control plane shows it playing ${seconds(playingAt - rebootedAt)}), ` +
          `reboot → HEALTHY ${seconds(healthy - rebootedAt)}`,
      );
      expect(installing).toBeGreaterThan(downloading);
      expect(rebooting).toBeGreaterThan(installing);
    },
    stepTimeout,
  );

  it(
    "rolls back from a bundle whose player never starts, and the rollout pauses",
    async () => {
      const { broken } = await bundlesMade;
      const release = await uploadRelease(broken, "rollout test v3: the player does not start");
      const updates = cp.client(UpdateService, cp.adminToken);
      const { rollout } = await updates.createRollout({
        releaseId: release.id,
        targets: [{ kind: { case: "screenId", value: screen?.id ?? "" } }],
        wavePercents: [100],
        rebootPolicy: RebootPolicy.NOW,
      });
      const rolloutId = rollout?.id ?? "";
      const bootsBefore = boots.length;
      await waitFor("the reboot into the new slot", () => boots.length > bootsBefore, 40 * 60_000);
      // Slot A's three tries: in each boot the player fails to start and the backstop reboots.
      for (const left of [2, 1, 0]) {
        const n = boots.length;
        await waitFor(
          `boot ${n} into slot A with ${left} tries left`,
          async () =>
            new RegExp(`AVTech: booting slot A \\(partition 2\\), tries left A=${left} B=`).test(await bootText(n)),
          10 * 60_000,
        );
        await waitFor("the backstop's reboot", () => boots.length > n, 30 * 60_000);
        const text = await bootText(n);
        expect(text).toMatch(/avtech-player\.service: .*status=203\/EXEC/);
        expect(text).toContain("slot A was booted for an update and no player took charge of it: rebooting");
      }
      const back = boots.length;
      await waitFor(
        "U-Boot going back to slot B",
        async () => /AVTech: booting slot B/.test(await bootText(back)),
        10 * 60_000,
      );
      await waitFor(
        "ROLLED_BACK",
        async () => (await rolloutScreen(rolloutId))?.phase === UpdatePhase.ROLLED_BACK,
        20 * 60_000,
      );
      const row = await rolloutScreen(rolloutId);
      expect(row?.reason).toBe(UpdateFailureReason.NOT_HEALTHY);
      expect(row?.message).toMatch(/restarted on slot B after the reboot into slot A/);
      await waitFor(
        "the rollout to pause on its failure threshold",
        async () => (await updates.getRollout({ rolloutId })).rollout?.state === RolloutState.PAUSED,
        5 * 60_000,
      );
      expect((await updates.getRollout({ rolloutId })).rollout?.pauseReason).toBe(PauseReason.FAILURE_THRESHOLD);
      await waitFor("the clip to play on v2 again", () => playingOn(v2, "B"), 20 * 60_000);
      console.info(`rollout test: rolled back; "${row?.message}"`);
    },
    rollbackTimeout,
  );

  it(
    "after the rollback, a reboot boots slot B again: the player put it first in the boot order",
    async () => {
      // U-Boot went back to B with the failed slot A still first in BOOT_ORDER; once B's tries ran out it would
      // boot A again. The player's `rauc status mark-active` after the rollback puts B first for good.
      const n = boots.length;
      await cp
        .client(FleetService, cp.adminToken)
        .sendCommand({ screenIds: [screen?.id ?? ""], kind: CommandKind.REBOOT, ttlSeconds: 600 });
      await waitFor("the reboot", () => boots.length > n, 20 * 60_000);
      await waitFor(
        "the boot after it to pick a slot",
        async () => /AVTech: booting slot [AB]/.test(await bootText(n + 1)),
        10 * 60_000,
      );
      const text = await bootText(n + 1);
      expect(text).toMatch(/AVTech: BOOT_ORDER=B( A)? BOOT_A_LEFT=/);
      expect(text).toMatch(/AVTech: booting slot B/);
      await waitFor("the clip to play on v2 after the reboot", () => playingOn(v2, "B"), 30 * 60_000);

      // That boot spent one of B's tries; the healthy player gives it back (confirmRunningSlot), so a second
      // reboot finds B with all 3 and the board never reaches U-Boot's "no slot has a try left" reset.
      await waitFor("the player to mark slot B good", async () => (await markedGood(n + 1)) === "B", 10 * 60_000);
      await cp
        .client(FleetService, cp.adminToken)
        .sendCommand({ screenIds: [screen?.id ?? ""], kind: CommandKind.REBOOT, ttlSeconds: 600 });
      await waitFor("the second reboot", () => boots.length > n + 1, 20 * 60_000);
      await waitFor(
        "the boot after it to pick a slot",
        async () => /AVTech: booting slot [AB]/.test(await bootText(n + 2)),
        10 * 60_000,
      );
      expect(await bootText(n + 2)).toMatch(/AVTech: BOOT_ORDER=B( A)? BOOT_A_LEFT=\d+ BOOT_B_LEFT=3\b/);
      expect(await bootText(n + 2)).toMatch(/AVTech: booting slot B/);
      await waitFor("the clip to play on v2 after the second reboot", () => playingOn(v2, "B"), 30 * 60_000);
    },
    stepTimeout,
  );
});
