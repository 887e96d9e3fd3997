import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DesiredState, DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import {
  RebootPolicy,
  UpdateFailureReason,
  UpdatePhase,
  type UpdateReport,
} from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createHttpGetter } from "../../src/assets/index.ts";
import { type Clock, systemClock } from "../../src/lib/index.ts";
import { screenTimeZone } from "../../src/schedule/index.ts";
import { UpdateManager, type UpdateManagerOptions, type UpdateRecord, UpdateStore } from "../../src/update/index.ts";
import { type AssetServer, bytesOf, sha256Of, startAssetServer } from "../lib/asset-server.ts";
import { SimulatedDisk } from "../lib/device.ts";
import { FakeClock } from "../lib/fake-clock.ts";
import { FakeClips, FakeHealth, FakeRauc, FakeRebooter } from "../lib/fake-rauc.ts";

const bundleSize = 300_000;
let server: AssetServer;
let dir: string;
let bundle: Uint8Array;
let sha: string;
let rauc: FakeRauc;
let rebooter: FakeRebooter;
let health: FakeHealth;
let clips: FakeClips;
let disk: SimulatedDisk;
let reports: UpdateReport[];
const running: UpdateManager[] = [];

beforeEach(async () => {
  server = await startAssetServer();
  dir = await mkdtemp(join(tmpdir(), "avtech-update-"));
  await mkdir(join(dir, "v1", "update"), { recursive: true });
  bundle = bytesOf(bundleSize, 7);
  sha = server.add(bundle);
  rauc = new FakeRauc();
  rauc.installVersion = "2026.12.2";
  rebooter = new FakeRebooter();
  health = new FakeHealth();
  clips = new FakeClips();
  disk = new SimulatedDisk();
  reports = [];
});
afterEach(async () => {
  for (const m of running.splice(0)) await m.stop();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const updateDir = () => join(dir, "v1", "update");
const store = () => new UpdateStore(join(updateDir(), "update.json"));

/** A player's update module on `dir`; a second call is the player after a restart (or a reboot, with a new boot id). */
function manager(clock: Clock, bootId = "boot-1", options: UpdateManagerOptions = {}): UpdateManager {
  const m = new UpdateManager({
    rauc,
    rebooter,
    health,
    clips,
    store: store(),
    dir: updateDir(),
    space: disk,
    http: createHttpGetter(),
    resolveUrl: (url) => new URL(url, server.baseUrl),
    reporter: { updateReport: (r) => reports.push(r) },
    clock,
    logger: pino({ level: "silent" }),
    bootId,
    imageVersionFallback: async () => "2026.12.1",
    timezoneOf: (state) => screenTimeZone(state, undefined),
    options: { reserveBytes: 1_000, random: () => 0.5, ...options },
  });
  running.push(m);
  return m;
}

async function restart(m: UpdateManager): Promise<void> {
  await m.stop();
  running.splice(running.indexOf(m), 1);
}

function state(
  over: { rolloutId?: string; version?: string; sha256?: string; policy?: RebootPolicy; compatible?: string } = {},
  settings: { displayHours?: { startMinute: number; endMinute: number }[]; timezone?: string } = {},
): DesiredState {
  return create(DesiredStateSchema, {
    version: 5n,
    settings: {
      timezone: settings.timezone ?? "UTC",
      displayHours: (settings.displayHours ?? []).map((window) => ({ window })),
    },
    osUpdate: {
      rolloutId: over.rolloutId ?? "ro-1",
      releaseId: "rel-1",
      version: over.version ?? "2026.12.2",
      compatible: over.compatible ?? "avtech-rpi",
      bundle: { sha256: over.sha256 ?? sha, sizeBytes: BigInt(bundleSize), url: `/assets/${over.sha256 ?? sha}` },
      rebootPolicy: over.policy ?? RebootPolicy.NOW,
    },
  });
}

const phases = () => reports.map((r) => UpdatePhase[r.phase]);

async function record(): Promise<UpdateRecord> {
  const loaded = await store().load();
  if (loaded.type !== "Found") throw new Error(`no update record (${loaded.type})`);
  return loaded.record;
}

describe("OS update: the whole way", () => {
  it("downloads, installs, reboots, then confirms the new slot once healthy and marks it good", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    const first = manager(clock);
    await first.open();
    expect(first.facts()).toEqual({ imageVersion: "2026.12.1", bootedSlot: "A" });
    await first.setDesired(state());

    expect(rauc.installs).toEqual([{ path: join(updateDir(), `${sha}.raucb`), bytes: bundleSize }]);
    expect(rebooter.reboots).toBe(1);
    expect(clips.waits).toBe(1);
    expect(phases()).toEqual(["DOWNLOADING", "INSTALLING", "REBOOTING", "REBOOTING"]);
    expect(reports[0]).toMatchObject({
      rolloutId: "ro-1",
      version: "2026.12.2",
      bytesDone: 0n,
      bytesTotal: BigInt(bundleSize),
    });
    expect(reports.at(-1)?.message).toBe("rebooting into slot B");
    // Installed: the bundle is gone from the data partition, the record says where it went.
    expect(await readdir(updateDir())).toEqual(["update.json"]);
    expect(await record()).toMatchObject({ phase: "rebooting", targetSlot: "B", fromSlot: "A", rebootAttempts: 1 });

    // The machine reboots into B.
    await restart(first);
    rauc.rebootInto("B");
    const second = manager(clock, "boot-2");
    await second.open();
    expect(second.facts()).toEqual({ imageVersion: "2026.12.2", bootedSlot: "B" });
    await second.runNow();
    expect(rauc.markGoodCalls).toBe(1);
    expect(rauc.slot("B").bootStatus).toBe("good");
    expect(phases().slice(4)).toEqual(["REBOOTING", "REBOOTING", "HEALTHY"]);
    expect(reports.at(-1)).toMatchObject({
      phase: UpdatePhase.HEALTHY,
      reason: UpdateFailureReason.UNSPECIFIED,
      message: "slot B confirmed healthy and marked good",
    });
    // The desired state still names the version that now runs: nothing more happens.
    await second.setDesired(state());
    expect(rauc.installs).toHaveLength(1);
    expect(rauc.markGoodCalls).toBe(1);
  });

  it("reports download progress at most every 5 s with growing byte counts", async () => {
    // A real clock and a slow server: about 1.6 s of download, progress allowed every 200 ms.
    server.chunkDelayMs = 20;
    const big = bytesOf(5 * 1024 * 1024, 9);
    const bigSha = server.add(big);
    const m = manager(systemClock, "boot-1", { progressIntervalMs: 200 });
    await m.open();
    const s = state({ sha256: bigSha });
    if (s.osUpdate?.bundle) s.osUpdate.bundle.sizeBytes = BigInt(big.length);
    rauc.installResult = { type: "Failed", reason: "INSTALL_FAILED", message: "stop here" };
    await m.setDesired(s);
    const downloading = reports.filter((r) => r.phase === UpdatePhase.DOWNLOADING);
    expect(downloading.length).toBeGreaterThanOrEqual(3);
    const at = (r: UpdateReport) => (r.reportedAt ? timestampDate(r.reportedAt).getTime() : Number.NaN);
    for (let i = 1; i < downloading.length; i++) {
      const [a, b] = [downloading[i - 1], downloading[i]] as [UpdateReport, UpdateReport];
      expect(b.bytesDone).toBeGreaterThan(a.bytesDone);
      expect(at(b) - at(a)).toBeGreaterThanOrEqual(200);
    }
    expect(downloading.at(-1)?.bytesDone).toBeLessThanOrEqual(BigInt(big.length));
  });
});

describe("OS update: the quiet moment", () => {
  it("waits for 02:00 local on an always-on screen, then reboots at the next clip boundary", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    clips.immediate = false;
    const m = manager(clock);
    await m.open();
    await m.setDesired(state({ policy: RebootPolicy.QUIET }, { timezone: "Europe/Madrid" }));
    expect(await record()).toMatchObject({ phase: "rebooting" });
    expect(phases()).toEqual(["DOWNLOADING", "INSTALLING", "REBOOTING"]);
    // 02:00 in Madrid is 01:00Z: one minute before, nothing.
    await clock.advance(Date.parse("2026-12-08T00:59:00Z") - clock.now().getTime());
    expect(clips.waiting).toBe(false);
    await clock.advance(60_000);
    await waitFor(() => clips.waiting);
    expect(rebooter.reboots).toBe(0);
    clips.boundary();
    await waitFor(() => rebooter.reboots === 1);
    expect(clock.now().toISOString()).toBe("2026-12-08T01:00:00.000Z");
  });

  it("reboots when the display hours end, not before", async () => {
    // 15:00Z is 10:00 in New York, inside its display hours.
    const clock = new FakeClock(new Date("2026-12-07T15:00:00Z"));
    const m = manager(clock);
    await m.open();
    // 08:00-20:00 in New York (UTC-5): the display goes off at 01:00Z.
    await m.setDesired(
      state(
        { policy: RebootPolicy.QUIET },
        { timezone: "America/New_York", displayHours: [{ startMinute: 480, endMinute: 1200 }] },
      ),
    );
    await clock.advance(Date.parse("2026-12-08T00:59:00Z") - clock.now().getTime());
    expect(rebooter.reboots).toBe(0);
    await clock.advance(61_000);
    await waitFor(() => rebooter.reboots === 1);
  });
});

describe("OS update: failures", () => {
  it.each([
    ["SIGNATURE_INVALID", "signature verification failed: Verify error: unable to get local issuer certificate"],
    ["INCOMPATIBLE", "Installation error: Compatible mismatch: Expected 'avtech-rpi' but bundle manifest has 'x'"],
    ["INSTALL_FAILED", "Failed mounting bundle: Failed to open /dev/mapper/control: No such file or directory"],
  ] as const)(
    "reports %s from rauc install, deletes the bundle, does not reboot and does not try again",
    async (reason, message) => {
      const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
      rauc.installResult = { type: "Failed", reason, message };
      const m = manager(clock);
      await m.open();
      await m.setDesired(state());
      expect(reports.at(-1)).toMatchObject({ phase: UpdatePhase.FAILED, reason: UpdateFailureReason[reason], message });
      expect(rebooter.reboots).toBe(0);
      expect(await readdir(updateDir())).toEqual(["update.json"]);
      // The same rollout again, later, and after a restart: no second install, no second download.
      const requests = server.requests.length;
      await clock.advance(24 * 3_600_000);
      await m.setDesired(state());
      await restart(m);
      const again = manager(clock);
      await again.open();
      await again.setDesired(state());
      expect(rauc.installs).toHaveLength(1);
      expect(server.requests.length).toBe(requests);
      // A new rollout of the same version is the explicit retry.
      rauc.installResult = { type: "Installed" };
      await again.setDesired(state({ rolloutId: "ro-2" }));
      expect(rauc.installs).toHaveLength(2);
      expect(reports.at(-1)).toMatchObject({ rolloutId: "ro-2", phase: UpdatePhase.REBOOTING });
    },
  );

  it("fails CHECKSUM_MISMATCH for a bundle whose bytes differ from its sha256, and keeps nothing of it", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    const wrongSha = sha256Of(new Uint8Array([1, 2, 3]));
    server.files.set(wrongSha, { body: bundle });
    const m = manager(clock);
    await m.open();
    await m.setDesired(state({ sha256: wrongSha }));
    expect(reports.at(-1)).toMatchObject({ phase: UpdatePhase.FAILED, reason: UpdateFailureReason.CHECKSUM_MISMATCH });
    expect(rauc.installs).toHaveLength(0);
    expect(await readdir(updateDir())).toEqual(["update.json"]);
  });

  it("fails DOWNLOAD_FAILED on a 404 and tries again after the backoff", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    server.files.set(sha, { body: bundle, missing: true });
    const m = manager(clock);
    await m.open();
    await m.setDesired(state());
    expect(reports.at(-1)).toMatchObject({ phase: UpdatePhase.FAILED, reason: UpdateFailureReason.DOWNLOAD_FAILED });
    expect((await record()).retryAt).toBe("2026-12-07T12:00:30.000Z");
    server.files.set(sha, { body: bundle });
    await clock.advance(30_000);
    await waitFor(() => rebooter.reboots === 1);
    expect(phases()).toEqual(["DOWNLOADING", "FAILED", "DOWNLOADING", "INSTALLING", "REBOOTING", "REBOOTING"]);
  });

  it("fails NO_SPACE without a request when the bundle would not leave the reserve free", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    disk.freeBytes = bundleSize + 999;
    const m = manager(clock);
    await m.open();
    await m.setDesired(state());
    expect(reports.at(-1)).toMatchObject({
      phase: UpdatePhase.FAILED,
      reason: UpdateFailureReason.NO_SPACE,
      message: `the bundle needs ${bundleSize} more bytes and 1000 must stay free; ${bundleSize + 999} are free`,
    });
    expect(server.requests).toHaveLength(0);
  });

  it("reports UNSUPPORTED once on a machine without RAUC and keeps going", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    rauc.unavailable = "cannot run rauc: spawn rauc ENOENT";
    rauc.missing = true;
    const m = manager(clock);
    await m.open();
    expect(m.facts()).toEqual({ imageVersion: "2026.12.1", bootedSlot: "" });
    expect(m.status().system).toBe("unsupported: cannot run rauc: spawn rauc ENOENT");
    await m.setDesired(state());
    await clock.advance(24 * 3_600_000);
    await m.setDesired(state());
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      phase: UpdatePhase.FAILED,
      reason: UpdateFailureReason.UNSUPPORTED,
      message: "cannot run rauc: spawn rauc ENOENT",
    });
    expect(server.requests).toHaveLength(0);
  });

  it("cuts a bundle download short when the rollout is aborted mid-download", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    server.chunkDelayMs = 400;
    const m = manager(clock);
    await m.open();
    const run = m.setDesired(state());
    await waitFor(() => reports.some((r) => r.phase === UpdatePhase.DOWNLOADING));
    await new Promise((resolve) => setTimeout(resolve, 60));
    const started = Date.now();
    await m.setDesired(create(DesiredStateSchema, { version: 6n }));
    await run;
    // 300 kB at 64 KiB per 400 ms would take ~1.9 s more; the abort ends it at once.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await readdir(updateDir())).toEqual([]);
    expect(rauc.installs).toHaveLength(0);
  });

  it("RAUC's service not up yet at start: reports UNSUPPORTED, asks again after the backoff and installs once it answers", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    rauc.unavailable = "rauc status failed (exit 1): rauc status: error creating proxy: Could not connect";
    const m = manager(clock);
    await m.open();
    await m.setDesired(state());
    expect(reports.at(-1)).toMatchObject({ phase: UpdatePhase.FAILED, reason: UpdateFailureReason.UNSUPPORTED });
    expect((await record()).retryAt).toBe("2026-12-07T12:00:30.000Z");
    rauc.unavailable = undefined;
    await clock.advance(30_000);
    await waitFor(() => rebooter.reboots === 1);
    expect(phases()).toEqual(["FAILED", "DOWNLOADING", "INSTALLING", "REBOOTING", "REBOOTING"]);
  });

  it("drops a download the rollout no longer asks for, part file included", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save(await stagedRecord("downloading"));
    await writeFile(join(updateDir(), `${sha}.raucb.part`), bundle.subarray(0, 1000));
    const m = manager(clock);
    await m.open();
    await m.setDesired(create(DesiredStateSchema, { version: 6n }));
    expect(await readdir(updateDir())).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });
});

describe("OS update: power cut at every phase (state file written, module restarted)", () => {
  it("mid-download: resumes with a Range request from what the part holds", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    server.files.set(sha, { body: bundle, dropAfterBytes: 100_000 });
    const m = manager(clock);
    await m.open();
    await m.setDesired(state());
    // The link dropped: the part keeps what arrived; a power cut now, then the player starts again.
    expect(await record()).toMatchObject({ phase: "failed", reason: "DOWNLOAD_FAILED" });
    const part = (await readFile(join(updateDir(), `${sha}.raucb.part`))).length;
    expect(part).toBeGreaterThan(0);
    await restart(m);
    const after = manager(clock, "boot-2");
    await after.open();
    expect(reports.at(-1)).toMatchObject({ phase: UpdatePhase.FAILED, bytesDone: BigInt(part) });
    await clock.advance(30_000);
    await after.setDesired(state());
    await waitFor(() => rebooter.reboots === 1);
    expect(server.requests.map((r) => r.range)).toEqual([undefined, `bytes=${part}-`]);
    expect(rauc.installs).toEqual([{ path: join(updateDir(), `${sha}.raucb`), bytes: bundleSize }]);
  });

  it("mid-download with the state file saying downloading: resumes at once", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save(await stagedRecord("downloading"));
    await writeFile(join(updateDir(), `${sha}.raucb.part`), bundle.subarray(0, 123_456));
    const m = manager(clock);
    await m.open();
    expect(reports).toEqual([expect.objectContaining({ phase: UpdatePhase.DOWNLOADING, bytesDone: 123_456n })]);
    await m.setDesired(state());
    expect(server.requests.map((r) => r.range)).toEqual(["bytes=123456-"]);
    expect(rebooter.reboots).toBe(1);
  });

  it("mid-install: installs again (RAUC rewrites the inactive slot), counting the attempt", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save({ ...(await stagedRecord("installing")), installAttempts: 1 });
    await writeFile(join(updateDir(), `${sha}.raucb`), bundle);
    const m = manager(clock);
    await m.open();
    await m.setDesired(state());
    expect(rauc.installs).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
    expect(await record()).toMatchObject({ phase: "rebooting", installAttempts: 2, targetSlot: "B" });
  });

  it("killed inside rauc install: the attempt is on disk before RAUC starts, so a third crash ends it", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save({ ...(await stagedRecord("installing")), installAttempts: 2 });
    await writeFile(join(updateDir(), `${sha}.raucb`), bundle);
    // The machine dies inside the install: RAUC never finishes it (a restart of the player alone, where RAUC's
    // service finishes the install, is the next case but one).
    rauc.holdInstall = new Promise(() => undefined);
    const m = manager(clock);
    await m.open();
    const run = m.setDesired(state());
    await waitFor(() => rauc.installs.length === 1);
    // The machine dies here: what the next start sees is the record on disk, with the bundle.
    const onDisk = await readFile(store().path);
    expect((await record()).installAttempts).toBe(3);
    // Stopping does not wait for RAUC.
    await restart(m);
    await run;
    await writeFile(store().path, onDisk);
    await writeFile(join(updateDir(), `${sha}.raucb`), bundle);
    rauc.holdInstall = undefined;
    const rebootsBefore = rebooter.reboots;
    const after = manager(clock, "boot-2");
    await after.open();
    await after.setDesired(state());
    expect(rauc.installs).toHaveLength(1);
    expect(reports.at(-1)).toMatchObject({
      phase: UpdatePhase.FAILED,
      reason: UpdateFailureReason.INSTALL_FAILED,
      message: "rauc install was interrupted 3 times",
    });
    expect(rebooter.reboots).toBe(rebootsBefore);
  });

  it("restarted while RAUC still installs: a busy RAUC is asked again later, the attempt not counted", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save({ ...(await stagedRecord("installing")), installAttempts: 1 });
    await writeFile(join(updateDir(), `${sha}.raucb`), bundle);
    rauc.installResult = { type: "Busy", message: "rauc busy: cannot run install" };
    const m = manager(clock);
    await m.open();
    await m.setDesired(state());
    expect(await record()).toMatchObject({
      phase: "installing",
      installAttempts: 1,
      message: "rauc busy: cannot run install",
    });
    expect(reports.map((r) => r.phase)).not.toContain(UpdatePhase.FAILED);
    rauc.installResult = { type: "Installed" };
    await clock.advance(30_000);
    await waitFor(() => rebooter.reboots === 1);
    expect(rauc.installs).toHaveLength(2);
    expect((await record()).installAttempts).toBe(2);
  });

  it("player restarted while RAUC's service finishes the install it started: waits, then goes on without installing again", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save({ ...(await stagedRecord("installing")), installAttempts: 1 });
    await writeFile(join(updateDir(), `${sha}.raucb`), bundle);
    // RAUC 1.8 refuses `rauc status` while it installs.
    rauc.unavailable = "rauc status failed (exit 1): already processing a different method";
    rauc.busy = true;
    const m = manager(clock);
    await m.open();
    await m.setDesired(state());
    expect(await record()).toMatchObject({ phase: "installing", installAttempts: 1 });
    expect(reports.map((r) => r.phase)).not.toContain(UpdatePhase.FAILED);
    // RAUC's service finished: slot B holds the version and boots next.
    rauc.unavailable = undefined;
    rauc.busy = false;
    rauc.slot("B").bundleVersion = "2026.12.2";
    rauc.state.primary = "B";
    await clock.advance(30_000);
    await waitFor(() => rebooter.reboots === 1);
    expect(rauc.installs).toHaveLength(0);
    expect(await record()).toMatchObject({ phase: "rebooting", targetSlot: "B", installAttempts: 1 });
    expect(await readdir(updateDir())).not.toContain(`${sha}.raucb`);
  });

  it("installing but the bundle is gone: downloads it again", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save(await stagedRecord("installing"));
    const m = manager(clock);
    await m.open();
    await m.setDesired(state());
    expect(server.requests).toHaveLength(1);
    expect(rauc.installs).toHaveLength(1);
  });

  it("installed, player restarted before the reboot: waits for the quiet moment, does not install again", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save({ ...(await stagedRecord("rebooting")), rebootPolicy: "quiet" });
    rauc.rebootInto("A", "B");
    const m = manager(clock);
    await m.open();
    expect(reports).toEqual([expect.objectContaining({ phase: UpdatePhase.REBOOTING })]);
    await m.setDesired(state({ policy: RebootPolicy.QUIET }));
    expect(rebooter.reboots).toBe(0);
    expect(rauc.installs).toHaveLength(0);
    expect(server.requests).toHaveLength(0);
    await clock.advance(14 * 3_600_000 + 60_000);
    await waitFor(() => rebooter.reboots === 1);
  });

  it("power cut before the reboot, the bootloader has not tried the new slot yet: waits again, no rollback", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save({ ...(await stagedRecord("rebooting")), rebootPolicy: "quiet" });
    rauc.rebootInto("A", "B");
    const m = manager(clock, "boot-2");
    await m.open();
    await m.setDesired(state({ policy: RebootPolicy.QUIET }));
    expect(await record()).toMatchObject({ phase: "rebooting", bootId: "boot-2" });
    expect(reports.map((r) => r.phase)).not.toContain(UpdatePhase.ROLLED_BACK);
  });

  it("power cut before the reboot cleared a one-shot trial boot: makes the new slot the next boot again, then reboots", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save(await stagedRecord("rebooting"));
    rauc.rebootInto("A", "A");
    const m = manager(clock, "boot-2");
    await m.open();
    await m.setDesired(state());
    expect(rauc.activated).toEqual(["rootfs.1"]);
    expect(rebooter.reboots).toBe(1);
    expect(await record()).toMatchObject({ phase: "rebooting", activations: 1, rebootAttempts: 1, bootId: "boot-2" });
    expect(reports.map((r) => r.phase)).not.toContain(UpdatePhase.ROLLED_BACK);
  });

  it("after the reboot into the new slot: the health gate runs even before any desired state arrives", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save(await stagedRecord("rebooting"));
    rauc.rebootInto("B");
    const m = manager(clock, "boot-2");
    await m.open();
    await m.runNow();
    expect(rauc.markGoodCalls).toBe(1);
    expect(reports.at(-1)?.phase).toBe(UpdatePhase.HEALTHY);
  });

  it("a state file that does not parse is ignored and the update starts over", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    await store().save(await stagedRecord("downloading"));
    await writeFile(store().path, "{ torn");
    const m = manager(clock);
    await m.open();
    await m.setDesired(state());
    expect(rebooter.reboots).toBe(1);
  });
});

describe("OS update: health gate", () => {
  async function bootedNewSlot(clock: FakeClock, options: UpdateManagerOptions = {}): Promise<UpdateManager> {
    await store().save(await stagedRecord("rebooting"));
    rauc.rebootInto("B");
    const m = manager(clock, "boot-2", options);
    await m.open();
    return m;
  }

  it("does not mark good before the stream is up, and does as soon as it is", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    health.isStreamUp = false;
    const m = await bootedNewSlot(clock);
    // Until the gate passes, the new slot is the gate's alone (confirmRunningSlot leaves it).
    expect([m.awaitsGateOn("B"), m.awaitsGateOn("A")]).toEqual([true, false]);
    const run = m.runNow();
    await gateWaiting(clock);
    await clock.advance(60_000);
    expect(rauc.markGoodCalls).toBe(0);
    health.isStreamUp = true;
    await clock.advance(2_000);
    await run;
    expect(rauc.markGoodCalls).toBe(1);
    expect(reports.at(-1)?.phase).toBe(UpdatePhase.HEALTHY);
    expect(m.awaitsGateOn("B")).toBe(false);
  });

  it.each([
    [
      "not registered",
      (h: FakeHealth): void => {
        h.isRegistered = false;
      },
      "not registered",
    ],
    [
      "no stream",
      (h: FakeHealth): void => {
        h.isStreamUp = false;
        h.linkError = "connect ECONNREFUSED 10.0.0.2:8080";
      },
      "control-plane stream not up (connect ECONNREFUSED 10.0.0.2:8080)",
    ],
    [
      "not playing",
      (h: FakeHealth): void => {
        h.isPlaying = false;
      },
      "playback is not healthy",
    ],
  ] as const)(
    "%s: never marks good, reboots after the deadline, and the old slot reports ROLLED_BACK once",
    async (_name, breakIt, problem) => {
      const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
      breakIt(health);
      const m = await bootedNewSlot(clock);
      void m.runNow();
      await gateWaiting(clock);
      await clock.advance(299_000);
      expect(rebooter.reboots).toBe(0);
      await clock.advance(2_000);
      await waitFor(() => rebooter.reboots === 1);
      expect(rauc.markGoodCalls).toBe(0);
      const message = `not healthy within 300 s: ${problem}`;
      expect(await record()).toMatchObject({ phase: "confirming", message, rebootAttempts: 1 });

      // The bootloader's tries run out: the old slot boots again.
      await restart(m);
      rauc.rebootInto("A");
      const back = manager(clock, "boot-3");
      await back.open();
      await back.setDesired(state());
      expect(reports.at(-1)).toMatchObject({
        phase: UpdatePhase.ROLLED_BACK,
        reason: UpdateFailureReason.NOT_HEALTHY,
        message: `${message}; the bootloader went back to slot A`,
      });
      // The rollout still names that version: no second download, install or reboot.
      await clock.advance(24 * 3_600_000);
      await back.setDesired(state());
      expect(server.requests).toHaveLength(0);
      expect(rauc.installs).toHaveLength(0);
      expect(rebooter.reboots).toBe(1);
      expect(reports.filter((r) => r.phase === UpdatePhase.ROLLED_BACK)).toHaveLength(1);
    },
  );

  it("with reboot_after_failed_gate = false it leaves the reboot to someone else", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    health.isPlaying = false;
    const m = await bootedNewSlot(clock, { rebootAfterFailedGate: false });
    void m.runNow();
    await gateWaiting(clock);
    await clock.advance(400_000);
    await waitFor(() => clock.pending === 0);
    expect(rebooter.reboots).toBe(0);
    expect(rauc.markGoodCalls).toBe(0);
  });

  it("a failing mark-good keeps the gate open and is part of the finding", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    rauc.markGoodError = new Error("rauc status mark-good failed (exit 1): D-Bus error");
    const m = await bootedNewSlot(clock);
    void m.runNow();
    await gateWaiting(clock);
    await clock.advance(301_000);
    await waitFor(() => rebooter.reboots === 1);
    expect((await record()).message).toBe(
      "not healthy within 300 s: rauc status mark-good failed: rauc status mark-good failed (exit 1): D-Bus error",
    );
  });

  it("a player restart during the gate keeps the deadline of this boot", async () => {
    const clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
    health.isStreamUp = false;
    const m = await bootedNewSlot(clock);
    void m.runNow();
    await gateWaiting(clock);
    await clock.advance(200_000);
    await restart(m);
    const again = manager(clock, "boot-2");
    await again.open();
    void again.runNow();
    await gateWaiting(clock);
    await clock.advance(99_000);
    expect(rebooter.reboots).toBe(0);
    await clock.advance(2_000);
    await waitFor(() => rebooter.reboots === 1);
  });
});

/** A record as the player wrote it at `phase` for the default bundle. */
async function stagedRecord(phase: UpdateRecord["phase"]): Promise<UpdateRecord> {
  return {
    v: 1,
    rolloutId: "ro-1",
    releaseId: "rel-1",
    version: "2026.12.2",
    compatible: "avtech-rpi",
    bundle: { sha256: sha, sizeBytes: bundleSize, url: `/assets/${sha}` },
    rebootPolicy: "now",
    phase,
    message: "",
    fromSlot: "A",
    fromVersion: "2026.12.1",
    targetSlot: phase === "rebooting" || phase === "confirming" ? "B" : "",
    installAttempts: phase === "downloading" ? 0 : 1,
    rebootAttempts: 0,
    activations: 0,
    bootId: "boot-1",
    failures: 0,
    updatedAt: "2026-12-07T11:00:00.000Z",
  };
}

/** Waits until the health gate sleeps on the fake clock between two checks. */
async function gateWaiting(clock: FakeClock): Promise<void> {
  await waitFor(() => clock.pending > 0);
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("timed out waiting for the condition");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
