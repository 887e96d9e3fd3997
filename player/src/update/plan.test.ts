import { DayOfWeek, type DisplayHours, DisplayHoursSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { type OsUpdate, OsUpdateSchema, RebootPolicy } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  afterInstall,
  downloadFailed,
  planUpdate,
  rebootWindow,
  type UpdateCurrent,
  type UpdatePlanContext,
  type UpdateStep,
  type UpdateTarget,
} from "./plan.ts";
import type { UpdateRecord } from "./store.ts";
import type { RaucStatus } from "./types.ts";

const sha = "ab".repeat(32);
const now = new Date("2026-12-07T12:00:00Z");

function raucStatus(over: Partial<RaucStatus> = {}): RaucStatus {
  return {
    compatible: "avtech-rpi",
    booted: "A",
    primary: "A",
    slots: [
      { name: "rootfs.0", class: "rootfs", bootname: "A", state: "booted", bootStatus: "good", bundleVersion: "" },
      { name: "rootfs.1", class: "rootfs", bootname: "B", state: "inactive", bootStatus: "good", bundleVersion: "" },
    ],
    ...over,
  };
}

function osUpdate(over: Omit<MessageInitShape<typeof OsUpdateSchema>, "$typeName"> = {}): OsUpdate {
  const defaults: MessageInitShape<typeof OsUpdateSchema> = {
    rolloutId: "ro-1",
    releaseId: "rel-1",
    version: "2026.12.2",
    compatible: "avtech-rpi",
    bundle: { sha256: sha, sizeBytes: 1_000n, url: "/v1/releases/rel-1/bundle" },
    rebootPolicy: RebootPolicy.QUIET,
  };
  const update = create(OsUpdateSchema, defaults);
  return "bundle" in over && over.bundle === undefined
    ? create(OsUpdateSchema, { ...defaults, ...over, bundle: undefined })
    : Object.assign(update, create(OsUpdateSchema, { ...defaults, ...over }));
}

function current(over: Partial<UpdateCurrent> = {}): UpdateCurrent {
  return {
    record: undefined,
    system: { type: "Rauc", status: raucStatus() },
    imageVersion: "2026.12.1",
    bootId: "boot-1",
    now,
    bundle: { complete: false, partBytes: 0 },
    freeBytes: 10_000_000,
    jitter: 0.5,
    ...over,
  };
}

function target(over: Partial<UpdateTarget> = {}): UpdateTarget {
  return { osUpdate: osUpdate(), displayHours: [], timezone: "UTC", ...over };
}

const ctx: UpdatePlanContext = {
  reserveBytes: 100,
  healthDeadlineMs: 300_000,
  rebootAfterFailedGate: true,
  maxInstallAttempts: 3,
  maxRebootAttempts: 3,
  busyRetryMs: 30_000,
};

function record(over: Partial<UpdateRecord> = {}): UpdateRecord {
  return {
    v: 1,
    rolloutId: "ro-1",
    releaseId: "rel-1",
    version: "2026.12.2",
    compatible: "avtech-rpi",
    bundle: { sha256: sha, sizeBytes: 1_000, url: "/v1/releases/rel-1/bundle" },
    rebootPolicy: "quiet",
    phase: "downloading",
    message: "",
    fromSlot: "A",
    fromVersion: "2026.12.1",
    targetSlot: "",
    installAttempts: 0,
    rebootAttempts: 0,
    activations: 0,
    bootId: "boot-1",
    failures: 0,
    updatedAt: now.toISOString(),
    ...over,
  };
}

/** The record a single save step writes. */
function saved(steps: UpdateStep[]): UpdateRecord {
  expect(steps).toHaveLength(1);
  const step = steps[0];
  if (step?.action !== "save") throw new Error(`expected a save step, got ${JSON.stringify(step)}`);
  return step.record;
}

/** A rollback's steps: the running slot made the next boot again (mark-active), then the record saved. */
function rolledBackSteps(steps: UpdateStep[]): UpdateRecord {
  expect(steps[0]).toEqual({ action: "keepOldSlot", slotName: "rootfs.0" });
  return saved(steps.slice(1));
}

function hours(startMinute: number, endMinute: number, days: DayOfWeek[] = []): DisplayHours {
  return create(DisplayHoursSchema, { window: { startMinute, endMinute }, daysOfWeek: days });
}

describe("planUpdate: starting", () => {
  it("starts downloading when the applied state asks for another version, remembering the slot it runs from", () => {
    const r = saved(planUpdate(current(), target(), ctx));
    expect(r).toMatchObject({
      phase: "downloading",
      rolloutId: "ro-1",
      version: "2026.12.2",
      bundle: { sha256: sha, sizeBytes: 1_000, url: "/v1/releases/rel-1/bundle" },
      rebootPolicy: "quiet",
      fromSlot: "A",
      fromVersion: "2026.12.1",
      bootId: "boot-1",
      installAttempts: 0,
    });
  });

  it("keeps REBOOT_POLICY_NOW and reads UNSPECIFIED as quiet", () => {
    expect(
      saved(planUpdate(current(), target({ osUpdate: osUpdate({ rebootPolicy: RebootPolicy.NOW }) }), ctx))
        .rebootPolicy,
    ).toBe("now");
    expect(
      saved(planUpdate(current(), target({ osUpdate: osUpdate({ rebootPolicy: RebootPolicy.UNSPECIFIED }) }), ctx))
        .rebootPolicy,
    ).toBe("quiet");
  });

  it("does nothing when the screen already runs that version, or nothing is asked", () => {
    expect(planUpdate(current({ imageVersion: "2026.12.2" }), target(), ctx)).toEqual([]);
    expect(planUpdate(current(), target({ osUpdate: undefined }), ctx)).toEqual([]);
  });

  it("fails UNSUPPORTED once without RAUC, and does not report it again for the same rollout", () => {
    const system = { type: "Unsupported", message: "cannot run rauc: spawn rauc ENOENT", lasting: true } as const;
    const r = saved(planUpdate(current({ system, imageVersion: "" }), target(), ctx));
    expect(r).toMatchObject({ phase: "failed", reason: "UNSUPPORTED", message: "cannot run rauc: spawn rauc ENOENT" });
    expect(r.retryAt).toBeUndefined();
    expect(planUpdate(current({ system, record: r, imageVersion: "" }), target(), ctx)).toEqual([]);
  });

  it("asks again later when RAUC is there but does not answer (its service not up yet), and starts once it does", () => {
    const system = { type: "Unsupported", message: "rauc status failed (exit 1): no service", lasting: false } as const;
    const first = saved(planUpdate(current({ system }), target(), ctx));
    expect(first).toMatchObject({
      phase: "failed",
      reason: "UNSUPPORTED",
      failures: 1,
      retryAt: "2026-12-07T12:00:30.000Z",
    });
    expect(planUpdate(current({ system, record: first }), target(), ctx)).toEqual([
      { action: "waitUntil", at: new Date("2026-12-07T12:00:30.000Z"), reason: "retry of UNSUPPORTED" },
    ]);
    const due = new Date("2026-12-07T12:00:30.000Z");
    const still = saved(planUpdate(current({ system, record: first, now: due }), target(), ctx));
    expect(still).toMatchObject({
      phase: "failed",
      reason: "UNSUPPORTED",
      failures: 2,
      retryAt: "2026-12-07T12:01:30.000Z",
    });
    const answering = saved(
      planUpdate(current({ record: still, now: new Date("2026-12-07T12:01:30.000Z") }), target(), ctx),
    );
    expect(answering).toMatchObject({ phase: "downloading", failures: 0, fromSlot: "A" });
    expect(answering.reason).toBeUndefined();
  });

  it("refuses a bundle for another system before downloading it", () => {
    const r = saved(planUpdate(current(), target({ osUpdate: osUpdate({ compatible: "avtech-x86" }) }), ctx));
    expect(r).toMatchObject({
      phase: "failed",
      reason: "INCOMPATIBLE",
      message: 'the bundle is for "avtech-x86", this system is "avtech-rpi"',
    });
  });

  it("fails an os_update without a usable bundle", () => {
    const r = saved(planUpdate(current(), target({ osUpdate: osUpdate({ bundle: undefined }) }), ctx));
    expect(r).toMatchObject({ phase: "failed", reason: "DOWNLOAD_FAILED" });
    expect(r.retryAt).toBeUndefined();
  });
});

describe("planUpdate: download and install", () => {
  it("downloads while the bundle is missing, then moves on to installing once it is complete", () => {
    const r = record();
    expect(planUpdate(current({ record: r }), target(), ctx)).toEqual([{ action: "download" }]);
    expect(
      saved(planUpdate(current({ record: r, bundle: { complete: true, partBytes: 0 } }), target(), ctx)).phase,
    ).toBe("installing");
  });

  it("fails NO_SPACE when the rest of the bundle plus the reserve does not fit, counting what the part holds", () => {
    const r = record();
    const tight = current({ record: r, freeBytes: 1_050 });
    const failed = saved(planUpdate(tight, target(), ctx));
    expect(failed).toMatchObject({ phase: "failed", reason: "NO_SPACE", failures: 1 });
    expect(failed.message).toBe("the bundle needs 1000 more bytes and 100 must stay free; 1050 are free");
    // Half the bundle is already there: 500 + 100 fit in 1 050.
    expect(
      planUpdate(current({ record: r, freeBytes: 1_050, bundle: { complete: false, partBytes: 500 } }), target(), ctx),
    ).toEqual([{ action: "download" }]);
  });

  it("retries a download-side failure only after its backoff, then downloads again", () => {
    const failed = downloadFailed(record(), "DOWNLOAD_FAILED", "ECONNRESET", now, 0.5);
    expect(failed.retryAt).toBe(new Date(now.getTime() + 30_000).toISOString());
    const waiting = planUpdate(current({ record: failed }), target(), ctx);
    expect(waiting).toEqual([
      { action: "waitUntil", at: new Date(failed.retryAt ?? ""), reason: "retry of DOWNLOAD_FAILED" },
    ]);
    const later = current({ record: failed, now: new Date(now.getTime() + 30_000) });
    expect(saved(planUpdate(later, target(), ctx))).toMatchObject({
      phase: "downloading",
      reason: undefined,
      message: "",
    });
  });

  it("grows the retry cap from 1 minute to at most 1 hour, with full jitter", () => {
    const delay = (failures: number, random: number) =>
      Date.parse(downloadFailed(record({ failures }), "DOWNLOAD_FAILED", "x", now, random).retryAt ?? "") -
      now.getTime();
    expect(delay(0, 0.999)).toBe(59_940);
    expect(delay(3, 0.999)).toBe(479_520);
    expect(delay(20, 0.999)).toBe(3_596_400);
    expect(delay(20, 0)).toBe(0);
  });

  it("abandons an update that has not installed when the rollout stops asking or asks for another one", () => {
    for (const phase of ["downloading", "installing"] as const) {
      expect(planUpdate(current({ record: record({ phase }) }), target({ osUpdate: undefined }), ctx)).toEqual([
        { action: "abandon", reason: "the desired state no longer asks for an OS update" },
      ]);
      expect(
        planUpdate(
          current({ record: record({ phase }) }),
          target({ osUpdate: osUpdate({ rolloutId: "ro-2", version: "2026.12.3" }) }),
          ctx,
        ),
      ).toEqual([{ action: "abandon", reason: "replaced by rollout ro-2 version 2026.12.3" }]);
    }
  });

  it("installs a complete bundle, goes back to downloading when it vanished, and gives up after 3 interrupted installs", () => {
    const complete = { complete: true, partBytes: 0 };
    expect(planUpdate(current({ record: record({ phase: "installing" }), bundle: complete }), target(), ctx)).toEqual([
      { action: "install" },
    ]);
    expect(saved(planUpdate(current({ record: record({ phase: "installing" }) }), target(), ctx)).phase).toBe(
      "downloading",
    );
    const tired = record({ phase: "installing", installAttempts: 3 });
    expect(saved(planUpdate(current({ record: tired, bundle: complete }), target(), ctx))).toMatchObject({
      phase: "failed",
      reason: "INSTALL_FAILED",
      message: "rauc install was interrupted 3 times",
    });
  });

  it("asks a busy RAUC again after 30 s without counting the attempt", () => {
    const r = record({ phase: "installing", installAttempts: 2 });
    const busy = afterInstall(r, { type: "Busy", message: "rauc busy: cannot run install" }, undefined, "boot-1", now);
    expect(busy).toMatchObject({
      phase: "installing",
      installAttempts: 1,
      message: "rauc busy: cannot run install",
      retryAt: "2026-12-07T12:00:30.000Z",
    });
    const complete = { complete: true, partBytes: 0 };
    expect(planUpdate(current({ record: busy, bundle: complete }), target(), ctx)).toEqual([
      {
        action: "waitUntil",
        at: new Date("2026-12-07T12:00:30.000Z"),
        reason: "RAUC is busy with another installation",
      },
    ]);
    const later = current({ record: busy, bundle: complete, now: new Date("2026-12-07T12:00:30.000Z") });
    expect(planUpdate(later, target(), ctx)).toEqual([{ action: "install" }]);
  });

  it("waits, without a failure or a report, while RAUC's service is busy (an installation a killed player started)", () => {
    const system = {
      type: "Unsupported",
      message: "rauc status failed (exit 1): already processing a different method",
      lasting: false,
      busy: true,
    } as const;
    const wait = [
      { action: "waitUntil", at: new Date("2026-12-07T12:00:30.000Z"), reason: "RAUC is busy with another operation" },
    ];
    for (const r of [record({ phase: "installing", installAttempts: 1 }), record(), undefined]) {
      expect(planUpdate(current({ record: r, system }), target(), ctx)).toEqual(wait);
    }
    expect(planUpdate(current({ system }), target({ osUpdate: undefined }), ctx)).toEqual([]);
  });

  it("takes an install that finished while the player was restarted as done instead of installing again", () => {
    const complete = { complete: true, partBytes: 0 };
    const installedB = raucStatus({
      primary: "B",
      slots: [
        { name: "rootfs.0", class: "rootfs", bootname: "A", state: "booted", bootStatus: "good", bundleVersion: "" },
        {
          name: "rootfs.1",
          class: "rootfs",
          bootname: "B",
          state: "inactive",
          bootStatus: "good",
          bundleVersion: "2026.12.2",
        },
      ],
    });
    const interrupted = record({ phase: "installing", installAttempts: 1 });
    const system = { type: "Rauc", status: installedB } as const;
    expect(saved(planUpdate(current({ record: interrupted, bundle: complete, system }), target(), ctx))).toMatchObject({
      phase: "rebooting",
      targetSlot: "B",
      installAttempts: 1,
    });
    // Not started by this update, or another version in the other slot: install.
    const notStarted = record({ phase: "installing", installAttempts: 0 });
    expect(planUpdate(current({ record: notStarted, bundle: complete, system }), target(), ctx)).toEqual([
      { action: "install" },
    ]);
    const older = { type: "Rauc", status: { ...installedB, primary: "A" } } as const;
    expect(planUpdate(current({ record: interrupted, bundle: complete, system: older }), target(), ctx)).toEqual([
      { action: "install" },
    ]);
  });

  it("fails UNSUPPORTED when RAUC disappears before the install", () => {
    const system = { type: "Unsupported", message: "rauc status failed (exit 1): no service", lasting: false } as const;
    expect(saved(planUpdate(current({ record: record(), system }), target(), ctx))).toMatchObject({
      phase: "failed",
      reason: "UNSUPPORTED",
    });
  });

  it("reads the installed slot back from RAUC after the install, or maps RAUC's refusal", () => {
    const r = record({ phase: "installing", installAttempts: 1 });
    expect(afterInstall(r, { type: "Installed" }, raucStatus({ primary: "B" }), "boot-1", now)).toMatchObject({
      phase: "rebooting",
      targetSlot: "B",
      bootId: "boot-1",
      rebootAttempts: 0,
    });
    // A backend that does not report the primary: the other slot of the booted one's class.
    expect(afterInstall(r, { type: "Installed" }, raucStatus({ primary: "" }), "boot-1", now).targetSlot).toBe("B");
    expect(
      afterInstall(
        r,
        { type: "Failed", reason: "SIGNATURE_INVALID", message: "signature verification failed: x" },
        undefined,
        "boot-1",
        now,
      ),
    ).toMatchObject({ phase: "failed", reason: "SIGNATURE_INVALID", message: "signature verification failed: x" });
  });
});

describe("planUpdate: reboot, health gate, rollback", () => {
  const installed = (over: Partial<UpdateRecord> = {}) => record({ phase: "rebooting", targetSlot: "B", ...over });
  const onB = { type: "Rauc", status: raucStatus({ booted: "B", primary: "B" }) } as const;

  it("waits for the quiet moment on the boot it installed on, and reboots once it comes", () => {
    const noon = planUpdate(current({ record: installed() }), target(), ctx);
    expect(noon).toEqual([
      { action: "waitUntil", at: new Date("2026-12-08T02:00:00Z"), reason: "waiting for the quiet moment" },
    ]);
    const night = current({ record: installed(), now: new Date("2026-12-08T02:30:00Z") });
    expect(planUpdate(night, target(), ctx)).toEqual([{ action: "reboot", why: "update" }]);
    expect(planUpdate(current({ record: installed({ rebootPolicy: "now" }) }), target(), ctx)).toEqual([
      { action: "reboot", why: "update" },
    ]);
  });

  it("sees an installed update through even when the desired state no longer names it", () => {
    expect(
      planUpdate(current({ record: installed({ rebootPolicy: "now" }) }), target({ osUpdate: undefined }), ctx),
    ).toEqual([{ action: "reboot", why: "update" }]);
  });

  it("starts the health gate when it booted the new slot", () => {
    const r = saved(planUpdate(current({ record: installed(), system: onB, bootId: "boot-2" }), target(), ctx));
    expect(r).toMatchObject({
      phase: "confirming",
      bootId: "boot-2",
      gateStartedAt: now.toISOString(),
      message: "booted slot B; confirming health",
    });
  });

  it("back on the old slot after its own reboot into the new one: reports the rollback", () => {
    const r = installed({ rebootAttempts: 1 });
    const rolledBack = {
      phase: "rolled-back",
      reason: "NOT_HEALTHY",
      message:
        "the screen restarted on slot A after the reboot into slot B: the bootloader went back (the new slot did not start)",
    };
    // U-Boot went back with the failed slot still first in BOOT_ORDER: A is made the next boot again first.
    const uBoot = planUpdate(
      current({ record: r, bootId: "boot-2", system: { type: "Rauc", status: raucStatus({ primary: "B" }) } }),
      target(),
      ctx,
    );
    expect(uBoot[0]).toEqual({ action: "keepOldSlot", slotName: "rootfs.0" });
    expect(uBoot[1]?.action === "save" && uBoot[1].record).toMatchObject(rolledBack);
    expect(uBoot).toHaveLength(2);
    // RAUC already names A primary: its U-Boot backend skips a slot with no tries left, while BOOT_ORDER may still
    // start with the failed B (the rollout test under QEMU saw "A B" with A=0 after rolling back from A). A is made
    // the next boot all the same.
    const primaryA = current({ record: r, bootId: "boot-2", system: { type: "Rauc", status: raucStatus() } });
    const again = planUpdate(primaryA, target(), ctx);
    expect(again[0]).toEqual({ action: "keepOldSlot", slotName: "rootfs.0" });
    expect(again[1]?.action === "save" && again[1].record).toMatchObject(rolledBack);
  });

  it("a restart it did not ask for (power cut) before the reboot moment: waits again, re-activating the new slot if needed", () => {
    // The bootloader still means to try B (U-Boot style): just wait for the reboot moment again.
    const stillB = current({
      record: installed(),
      bootId: "boot-2",
      system: { type: "Rauc", status: raucStatus({ primary: "B" }) },
    });
    expect(saved(planUpdate(stillB, target(), ctx))).toMatchObject({ phase: "rebooting", bootId: "boot-2" });
    // A one-shot trial flag (the Pi's tryboot) was lost with the power: make B the next boot again.
    const lost = current({ record: installed(), bootId: "boot-2" });
    expect(planUpdate(lost, target(), ctx)).toEqual([{ action: "activate", slotName: "rootfs.1" }]);
    // After three of those it gives up.
    const again = current({ record: installed({ activations: 3 }), bootId: "boot-2" });
    expect(rolledBackSteps(planUpdate(again, target(), ctx))).toMatchObject({
      phase: "rolled-back",
      message: "the screen keeps restarting on slot A and slot B is not the next boot: giving up",
    });
  });

  it("runs the gate until its deadline on the new slot, then reboots so the bootloader can go back", () => {
    const confirming = record({
      phase: "confirming",
      targetSlot: "B",
      bootId: "boot-2",
      gateStartedAt: now.toISOString(),
    });
    const during = current({
      record: confirming,
      system: onB,
      bootId: "boot-2",
      now: new Date(now.getTime() + 60_000),
    });
    expect(planUpdate(during, target(), ctx)).toEqual([
      { action: "healthGate", deadline: new Date(now.getTime() + 300_000) },
    ]);
    const after = { ...during, now: new Date(now.getTime() + 300_000) };
    expect(planUpdate(after, target(), ctx)).toEqual([{ action: "reboot", why: "failedGate" }]);
    expect(planUpdate(after, target(), { ...ctx, rebootAfterFailedGate: false })).toEqual([
      { action: "noop", reason: "the new slot failed its health gate" },
    ]);
    expect(planUpdate({ ...after, record: { ...confirming, rebootAttempts: 3 } }, target(), ctx)).toEqual([
      { action: "noop", reason: "asked for 3 reboots already; the bootloader does not go back" },
    ]);
  });

  it("starts the gate's deadline over on each new boot of the new slot", () => {
    const confirming = record({
      phase: "confirming",
      targetSlot: "B",
      bootId: "boot-2",
      gateStartedAt: "2026-12-07T11:00:00.000Z",
    });
    const r = saved(planUpdate(current({ record: confirming, system: onB, bootId: "boot-3" }), target(), ctx));
    expect(r).toMatchObject({ phase: "confirming", bootId: "boot-3", gateStartedAt: now.toISOString() });
  });

  it("reports ROLLED_BACK with the gate's finding when the old slot runs again", () => {
    const confirming = record({
      phase: "confirming",
      targetSlot: "B",
      bootId: "boot-2",
      message: "not healthy within 300 s: control-plane stream not up (ECONNREFUSED)",
    });
    expect(rolledBackSteps(planUpdate(current({ record: confirming, bootId: "boot-3" }), target(), ctx))).toMatchObject(
      {
        phase: "rolled-back",
        reason: "NOT_HEALTHY",
        message:
          "not healthy within 300 s: control-plane stream not up (ECONNREFUSED); the bootloader went back to slot A",
      },
    );
    const unfinished = record({
      phase: "confirming",
      targetSlot: "B",
      bootId: "boot-2",
      message: "booted slot B; confirming health",
    });
    expect(rolledBackSteps(planUpdate(current({ record: unfinished, bootId: "boot-3" }), target(), ctx)).message).toBe(
      "slot B was not confirmed healthy; the bootloader went back to slot A",
    );
  });

  it("never tries a rolled-back or failed version again for the same rollout, but does for a new rollout (the explicit retry)", () => {
    for (const done of [
      record({ phase: "rolled-back", reason: "NOT_HEALTHY" }),
      record({ phase: "failed", reason: "SIGNATURE_INVALID" }),
      record({ phase: "failed", reason: "CHECKSUM_MISMATCH" }),
      record({ phase: "healthy" }),
    ]) {
      expect(planUpdate(current({ record: done }), target(), ctx)).toEqual([]);
      const retry = saved(
        planUpdate(current({ record: done }), target({ osUpdate: osUpdate({ rolloutId: "ro-2" }) }), ctx),
      );
      expect(retry).toMatchObject({ phase: "downloading", rolloutId: "ro-2", version: "2026.12.2" });
    }
  });

  it("waits while RAUC does not answer on the new slot, and reboots once the gate's time is up", () => {
    const system = { type: "Unsupported", message: "rauc status failed", lasting: false } as const;
    const confirming = record({
      phase: "confirming",
      targetSlot: "B",
      bootId: "boot-2",
      gateStartedAt: now.toISOString(),
    });
    expect(planUpdate(current({ record: confirming, system, bootId: "boot-2" }), target(), ctx)).toEqual([
      { action: "waitUntil", at: new Date(now.getTime() + 30_000), reason: "RAUC is not answering" },
    ]);
    const late = current({ record: confirming, system, bootId: "boot-2", now: new Date(now.getTime() + 300_000) });
    expect(planUpdate(late, target(), ctx)).toEqual([{ action: "reboot", why: "failedGate" }]);
  });
});

describe("rebootWindow", () => {
  const quiet = RebootPolicy.QUIET;

  it("is always open for REBOOT_POLICY_NOW", () => {
    expect(
      rebootWindow(RebootPolicy.NOW, [hours(480, 1200)], "Europe/Madrid", new Date("2026-12-07T12:00:00Z")),
    ).toEqual({
      open: true,
    });
  });

  it("opens when the display hours end, in the screen's zone", () => {
    // 08:00-20:00 in Madrid (UTC+1 in December): noon local is inside, the window ends at 19:00Z.
    const madrid = rebootWindow(quiet, [hours(480, 1200)], "Europe/Madrid", new Date("2026-12-07T11:00:00Z"));
    expect(madrid).toEqual({ open: false, opensAt: new Date("2026-12-07T19:00:00Z") });
    expect(rebootWindow(quiet, [hours(480, 1200)], "Europe/Madrid", new Date("2026-12-07T20:30:00Z"))).toEqual({
      open: true,
    });
    // The same instant is evening in Tokyo: outside its display hours.
    expect(rebootWindow(quiet, [hours(480, 1200)], "Asia/Tokyo", new Date("2026-12-07T11:30:00Z"))).toEqual({
      open: true,
    });
  });

  it("handles display hours across midnight", () => {
    // 18:00-02:00 (UTC): at 01:00 the display is still on until 02:00; at 03:00 it is off.
    const late = [hours(1080, 120)];
    expect(rebootWindow(quiet, late, "UTC", new Date("2026-12-08T01:00:00Z"))).toEqual({
      open: false,
      opensAt: new Date("2026-12-08T02:00:00Z"),
    });
    expect(rebootWindow(quiet, late, "UTC", new Date("2026-12-08T03:00:00Z"))).toEqual({ open: true });
  });

  it("is open all day on days without display hours", () => {
    // Monday to Friday only; 2026-12-12 is a Saturday.
    const weekdays = [
      hours(480, 1200, [
        DayOfWeek.MONDAY,
        DayOfWeek.TUESDAY,
        DayOfWeek.WEDNESDAY,
        DayOfWeek.THURSDAY,
        DayOfWeek.FRIDAY,
      ]),
    ];
    expect(rebootWindow(quiet, weekdays, "UTC", new Date("2026-12-12T12:00:00Z"))).toEqual({ open: true });
  });

  it("uses 02:00-05:00 local for an always-on screen", () => {
    // New York is UTC-5 in December: 02:00 local is 07:00Z.
    const ny = "America/New_York";
    expect(rebootWindow(quiet, [], ny, new Date("2026-12-07T17:00:00Z"))).toEqual({
      open: false,
      opensAt: new Date("2026-12-08T07:00:00Z"),
    });
    expect(rebootWindow(quiet, [], ny, new Date("2026-12-08T08:30:00Z"))).toEqual({ open: true });
    // 05:00 local is the first minute after the window: closed until the next night.
    expect(rebootWindow(quiet, [], ny, new Date("2026-12-08T10:00:00Z"))).toEqual({
      open: false,
      opensAt: new Date("2026-12-09T07:00:00Z"),
    });
  });

  it("uses the night window when display hours never end, but waits for a weekend off", () => {
    expect(rebootWindow(quiet, [hours(0, 1440)], "UTC", new Date("2026-12-07T12:00:00Z"))).toEqual({
      open: false,
      opensAt: new Date("2026-12-08T02:00:00Z"),
    });
    // On around the clock Monday to Friday: the first moment off is Saturday 00:00.
    const weekdays = [
      hours(0, 1440, [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY]),
    ];
    expect(rebootWindow(quiet, weekdays, "UTC", new Date("2026-12-07T12:00:00Z"))).toEqual({
      open: false,
      opensAt: new Date("2026-12-12T00:00:00Z"),
    });
  });

  it("follows DST: on the spring-forward night the window opens at 03:00 local, which is 01:00Z", () => {
    // Europe/Madrid skips 02:00-03:00 on 2027-03-28; the window's remaining part starts at 03:00 CEST.
    const before = rebootWindow(quiet, [], "Europe/Madrid", new Date("2027-03-27T23:30:00Z"));
    expect(before).toEqual({ open: false, opensAt: new Date("2027-03-28T01:00:00Z") });
    expect(rebootWindow(quiet, [], "Europe/Madrid", new Date("2027-03-28T01:30:00Z"))).toEqual({ open: true });
    // In summer 02:00 CEST is 00:00Z.
    expect(rebootWindow(quiet, [], "Europe/Madrid", new Date("2027-06-01T12:00:00Z"))).toEqual({
      open: false,
      opensAt: new Date("2027-06-02T00:00:00Z"),
    });
  });
});
