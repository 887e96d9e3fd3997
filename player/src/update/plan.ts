import { isSha256Hex } from "@avtech/proto";
import { type DisplayHours, DisplayHoursSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { type OsUpdate, RebootPolicy } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import { evaluateDisplayHours } from "../schedule/index.ts";
import type { FailureReason, UpdateRecord } from "./store.ts";
import type { InstallResult, RaucStatus } from "./types.ts";

/** What RAUC says about the system, or why it cannot be used. */
/**
 * What RAUC says about the system, or why it cannot be used (`lasting`: no RAUC at all, as on a
 * development machine; otherwise RAUC is there and may answer later, e.g. its service starts
 * after the player).
 */
export type SystemView =
  | { type: "Rauc"; status: RaucStatus }
  | {
      type: "Unsupported";
      message: string;
      lasting: boolean;
      /** RAUC answered that it is busy with another operation (an installation running): ask again soon. */
      busy?: boolean;
    };

/** Everything the planner looks at; plain data, so {@link planUpdate} stays pure. */
export interface UpdateCurrent {
  /** The persisted record, if any. */
  record: UpdateRecord | undefined;
  system: SystemView;
  /** The running OS release ("" when unknown). */
  imageVersion: string;
  /** This boot's id (/proc/sys/kernel/random/boot_id). */
  bootId: string;
  now: Date;
  /** The record's bundle on disk: verified and complete, or the bytes of its part file. */
  bundle: { complete: boolean; partBytes: number };
  /** Free bytes of the filesystem the bundle goes to. */
  freeBytes: number;
  /** A uniform draw in [0, 1) for the retry jitter (drawn by the caller, so planning stays pure). */
  jitter: number;
}

/** What the applied desired state asks for. */
export interface UpdateTarget {
  osUpdate: OsUpdate | undefined;
  /** The screen's display hours (empty = always on). */
  displayHours: readonly DisplayHours[];
  /** IANA zone the display hours and the night window are read in. */
  timezone: string;
}

/** Limits and policy of the planner. */
export interface UpdatePlanContext {
  /** Free space the bundle must leave on its filesystem (the player's min_free_bytes). */
  reserveBytes: number;
  /** How long the health gate waits on a new slot before giving up on this boot. */
  healthDeadlineMs: number;
  /** After a failed gate, reboot so the bootloader's try counter can go back (default policy: yes). */
  rebootAfterFailedGate: boolean;
  /** `rauc install` runs (interrupted ones included) before the update fails; 3. */
  maxInstallAttempts: number;
  /** Reboots asked for one update before the player stops asking (a bootloader that never goes back); 3. */
  maxRebootAttempts: number;
  /** How long to wait before asking a busy RAUC again; 30 000 ms. */
  busyRetryMs: number;
}

/** One step of the update; every step is safe to repeat after a crash. */
export type UpdateStep =
  /** Persist `record` (a new update or a phase change) and report it. */
  | { action: "save"; record: UpdateRecord }
  /** Drop an update that has not installed yet and that the desired state no longer asks for. */
  | { action: "abandon"; reason: string }
  /** Fetch (resume) the bundle, reporting progress. */
  | { action: "download" }
  /** `rauc install` the bundle. */
  | { action: "install" }
  /** Nothing to do until `at` (a quiet moment, a retry). */
  | { action: "waitUntil"; at: Date; reason: string }
  /** Make the installed slot (RAUC slot `slotName`) the next boot again (`rauc status mark-active`). */
  | { action: "activate"; slotName: string }
  /**
   * Back on the old slot after a rollback: make it (RAUC slot `slotName`) the next boot with fresh tries
   * (`rauc status mark-active`). Otherwise the failed slot stays first in U-Boot's BOOT_ORDER, and once the old
   * slot's tries run out (every boot spends one) U-Boot gives both 3 again and boots the failed slot first.
   */
  | { action: "keepOldSlot"; slotName: string }
  /** Reboot at the next clip boundary: into the new slot, or away from a new slot that failed its gate. */
  | { action: "reboot"; why: "update" | "failedGate" }
  /** Wait until the new slot is healthy (then mark it good) or `deadline` passes. */
  | { action: "healthGate"; deadline: Date }
  /** Nothing to do. */
  | { action: "noop"; reason: string };

/** The `action` names. */
export type UpdateStepAction = UpdateStep["action"];

/** Retries of a failed download: full jitter under a cap from 1 min doubling to 1 h. */
export const downloadRetry = { initialMs: 60_000, maxMs: 3_600_000 } as const;

const activePhases = new Set(["downloading", "installing", "rebooting", "confirming"]);

/**
 * Plans the next steps of the OS update. Pure: no I/O, no clock. An empty plan, a noop or a
 * waitUntil means there is nothing to do now. The rules:
 *  - an update that has not installed yet (downloading, installing) follows the desired state: a
 *    different rollout or version replaces it, no os_update abandons it;
 *  - once installed (rebooting, confirming) it is seen through whatever the desired state says:
 *    RAUC has already made the new slot the next to boot, so any reboot goes there;
 *  - a final outcome (healthy, failed, rolled back) is kept for its rollout and version and never
 *    retried for them; the rollout retries by sending a new rollout_id (or another version).
 *    Only download-side failures (network, no space) and a RAUC that does not answer yet are
 *    retried, after a backoff;
 *  - an os_update naming the running version does nothing.
 */
export function planUpdate(cur: UpdateCurrent, target: UpdateTarget, ctx: UpdatePlanContext): UpdateStep[] {
  const r = cur.record;
  const d = target.osUpdate;
  const active = r !== undefined && activePhases.has(r.phase);
  // RAUC's service refuses `rauc status` while it installs (e.g. the bundle a player killed mid-install had
  // started): not a verdict on the device, so neither a failure nor a report; ask again.
  if (cur.system.type === "Unsupported" && cur.system.busy === true && (active || d !== undefined)) {
    return [
      {
        action: "waitUntil",
        at: new Date(cur.now.getTime() + ctx.busyRetryMs),
        reason: "RAUC is busy with another operation",
      },
    ];
  }
  if (r && active) return planActive(r, cur, target, ctx);

  if (!d) return [];
  if (r && sameUpdate(r, d)) {
    if (r.phase !== "failed" || r.retryAt === undefined) return [];
    const retryAt = new Date(r.retryAt);
    if (cur.now < retryAt) return [{ action: "waitUntil", at: retryAt, reason: `retry of ${r.reason}` }];
    if (r.reason !== "UNSUPPORTED") {
      return [save({ ...r, phase: "downloading", reason: undefined, message: "", retryAt: undefined }, cur)];
    }
    if (cur.system.type === "Unsupported") return [save(unsupported(r, cur.system, cur), cur)];
    // RAUC answers now: start over as if the update had just arrived.
  }
  if (d.version === cur.imageVersion) return [];

  const fresh = newRecord(d, cur);
  if (cur.system.type === "Unsupported") return [save(unsupported(fresh, cur.system, cur), cur)];
  const bundle = d.bundle;
  if (!bundle || !isSha256Hex(bundle.sha256) || bundle.url === "" || bundle.sizeBytes === 0n) {
    return [
      save(
        {
          ...fresh,
          phase: "failed",
          reason: "DOWNLOAD_FAILED",
          message: "the os_update names no bundle (sha256, size and url are required)",
        },
        cur,
      ),
    ];
  }
  const system = cur.system.status.compatible;
  if (d.compatible !== "" && d.compatible !== system) {
    return [
      save(
        {
          ...fresh,
          phase: "failed",
          reason: "INCOMPATIBLE",
          message: `the bundle is for "${d.compatible}", this system is "${system}"`,
        },
        cur,
      ),
    ];
  }
  return [save(fresh, cur)];
}

/**
 * The record of an update RAUC cannot take: final without RAUC at all (reported once), else
 * asked again after a backoff like a download (RAUC's service may simply not be up yet).
 */
function unsupported(
  r: UpdateRecord,
  system: Extract<SystemView, { type: "Unsupported" }>,
  cur: UpdateCurrent,
): UpdateRecord {
  if (system.lasting) return finalFailure(r, "UNSUPPORTED", system.message);
  const cap = Math.min(downloadRetry.maxMs, downloadRetry.initialMs * 2 ** r.failures);
  return {
    ...r,
    phase: "failed",
    reason: "UNSUPPORTED",
    message: system.message,
    failures: r.failures + 1,
    retryAt: new Date(cur.now.getTime() + Math.floor(cur.jitter * cap)).toISOString(),
  };
}

function planActive(r: UpdateRecord, cur: UpdateCurrent, target: UpdateTarget, ctx: UpdatePlanContext): UpdateStep[] {
  const d = target.osUpdate;
  const installed = r.phase === "rebooting" || r.phase === "confirming";
  if (!installed && (!d || !sameUpdate(r, d))) {
    return [
      {
        action: "abandon",
        reason: d
          ? `replaced by rollout ${d.rolloutId} version ${d.version}`
          : "the desired state no longer asks for an OS update",
      },
    ];
  }
  if (cur.system.type === "Unsupported") {
    if (!installed) return [save(unsupported(r, cur.system, cur), cur)];
    // RAUC stopped answering mid-update: nothing can be confirmed, so the gate cannot pass on this boot.
    if (r.phase === "confirming" && r.bootId === cur.bootId && cur.now >= gateDeadline(r, ctx)) {
      return failedGate(r, ctx);
    }
    return [{ action: "waitUntil", at: new Date(cur.now.getTime() + 30_000), reason: "RAUC is not answering" }];
  }
  const status = cur.system.status;
  switch (r.phase) {
    case "downloading": {
      if (cur.bundle.complete) return [save({ ...r, phase: "installing", message: "" }, cur)];
      const remaining = Math.max(0, r.bundle.sizeBytes - cur.bundle.partBytes);
      if (cur.freeBytes < remaining + ctx.reserveBytes) {
        return [
          save(
            downloadFailed(
              r,
              "NO_SPACE",
              `the bundle needs ${remaining} more bytes and ${ctx.reserveBytes} must stay free; ${cur.freeBytes} are free`,
              cur.now,
              cur.jitter,
            ),
            cur,
          ),
        ];
      }
      return [{ action: "download" }];
    }
    case "installing": {
      // An install this player started before it was restarted (a watchdog kill, a crash) went on in RAUC's
      // service and finished: RAUC made the other slot the next boot with this version. Installing again would
      // rewrite the slot for nothing (and may be interrupted again).
      const next = status.slots.find((s) => s.bootname === status.primary);
      if (r.installAttempts > 0 && next && status.primary !== status.booted && next.bundleVersion === r.version) {
        return [save(afterInstall(r, { type: "Installed" }, status, cur.bootId, cur.now), cur)];
      }
      if (!cur.bundle.complete) return [save({ ...r, phase: "downloading", retryAt: undefined }, cur)];
      if (r.retryAt !== undefined && cur.now < new Date(r.retryAt)) {
        return [{ action: "waitUntil", at: new Date(r.retryAt), reason: "RAUC is busy with another installation" }];
      }
      if (r.installAttempts >= ctx.maxInstallAttempts) {
        return [
          save(
            {
              ...r,
              phase: "failed",
              reason: "INSTALL_FAILED",
              message: `rauc install was interrupted ${r.installAttempts} times`,
            },
            cur,
          ),
        ];
      }
      return [{ action: "install" }];
    }
    case "rebooting": {
      if (status.booted === r.targetSlot) {
        return [
          save(
            {
              ...r,
              phase: "confirming",
              bootId: cur.bootId,
              gateStartedAt: cur.now.toISOString(),
              message: `booted slot ${r.targetSlot}; confirming health`,
            },
            cur,
          ),
        ];
      }
      if (r.bootId === cur.bootId) return rebootWhenQuiet(r, cur, target);
      // The machine restarted on the old slot.
      if (r.rebootAttempts > 0) {
        return rollback(
          r,
          `the screen restarted on slot ${status.booted} after the reboot into slot ${r.targetSlot}: the bootloader went back (the new slot did not start)`,
          status,
          cur,
        );
      }
      // A restart this player did not ask for (a power cut, someone else's reboot) came before the
      // reboot moment. The new slot may not have been tried: a power cut clears a one-shot trial
      // boot (the Pi's tryboot flag), so it is made the next boot again if RAUC no longer says so.
      if (status.primary === r.targetSlot) return [save({ ...r, bootId: cur.bootId }, cur)];
      const slot = status.slots.find((s) => s.bootname === r.targetSlot);
      if (!slot || r.activations >= ctx.maxRebootAttempts) {
        return rollback(
          r,
          `the screen keeps restarting on slot ${status.booted} and slot ${r.targetSlot} is not the next boot: giving up`,
          status,
          cur,
        );
      }
      return [{ action: "activate", slotName: slot.name }];
    }
    case "confirming": {
      if (status.booted !== r.targetSlot) {
        const why = r.message.startsWith("not healthy") ? r.message : `slot ${r.targetSlot} was not confirmed healthy`;
        return rollback(r, `${why}; the bootloader went back to slot ${status.booted}`, status, cur);
      }
      if (r.bootId !== cur.bootId) {
        return [save({ ...r, bootId: cur.bootId, gateStartedAt: cur.now.toISOString() }, cur)];
      }
      const deadline = gateDeadline(r, ctx);
      if (cur.now < deadline) return [{ action: "healthGate", deadline }];
      return failedGate(r, ctx);
    }
    default:
      return [];
  }
}

function failedGate(r: UpdateRecord, ctx: UpdatePlanContext): UpdateStep[] {
  if (!ctx.rebootAfterFailedGate) return [{ action: "noop", reason: "the new slot failed its health gate" }];
  if (r.rebootAttempts >= ctx.maxRebootAttempts) {
    return [
      { action: "noop", reason: `asked for ${r.rebootAttempts} reboots already; the bootloader does not go back` },
    ];
  }
  return [{ action: "reboot", why: "failedGate" }];
}

function rebootWhenQuiet(r: UpdateRecord, cur: UpdateCurrent, target: UpdateTarget): UpdateStep[] {
  const policy = r.rebootPolicy === "now" ? RebootPolicy.NOW : RebootPolicy.QUIET;
  const window = rebootWindow(policy, target.displayHours, target.timezone, cur.now);
  if (!window.open) return [{ action: "waitUntil", at: window.opensAt, reason: "waiting for the quiet moment" }];
  return [{ action: "reboot", why: "update" }];
}

/** When the screen may reboot: now, or from `opensAt` on. */
export type RebootWindow = { open: true } | { open: false; opensAt: Date };

/** Display hours that stay on longer than this make an always-on screen (the night window applies). */
const alwaysOnAfterMs = 7 * 24 * 3_600_000;

/** 02:00–05:00 every day: the quiet window of an always-on screen. */
const nightWindow: readonly DisplayHours[] = [
  create(DisplayHoursSchema, { window: { startMinute: 2 * 60, endMinute: 5 * 60 } }),
];

/**
 * The reboot policy at `now`: NOW is always open; QUIET (and UNSPECIFIED) is open outside the
 * display hours, or, for a screen without display hours (always on, or hours that never end),
 * between 02:00 and 05:00 local time. Read with the shared schedule evaluation, so days, windows
 * across midnight, time zones and DST mean what they mean for display hours.
 */
export function rebootWindow(
  policy: RebootPolicy,
  displayHours: readonly DisplayHours[],
  timezone: string,
  now: Date,
): RebootWindow {
  if (policy === RebootPolicy.NOW) return { open: true };
  if (displayHours.length > 0) {
    const display = evaluateDisplayHours(displayHours, timezone, now);
    if (!display.on) return { open: true };
    // Hours that do not end within a week (the evaluation looks ahead a little further) make
    // an always-on screen.
    const ends = display.nextChangeAt;
    if (ends && ends.getTime() - now.getTime() <= alwaysOnAfterMs) return { open: false, opensAt: ends };
  }
  const night = evaluateDisplayHours(nightWindow, timezone, now);
  if (night.on) return { open: true };
  // A daily window always has a next start; the fallback only keeps the type honest.
  return { open: false, opensAt: night.nextChangeAt ?? new Date(now.getTime() + 3_600_000) };
}

/** The record after a download-side failure: failed now, tried again after a backoff with full jitter. */
export function downloadFailed(
  r: UpdateRecord,
  reason: Extract<FailureReason, "DOWNLOAD_FAILED" | "NO_SPACE">,
  message: string,
  now: Date,
  random: number,
): UpdateRecord {
  const cap = Math.min(downloadRetry.maxMs, downloadRetry.initialMs * 2 ** r.failures);
  const delay = Math.floor(random * cap);
  return {
    ...r,
    phase: "failed",
    reason,
    message,
    failures: r.failures + 1,
    retryAt: new Date(now.getTime() + delay).toISOString(),
  };
}

/** The record after a final failure (nothing will be retried for this rollout and version). */
export function finalFailure(r: UpdateRecord, reason: FailureReason, message: string): UpdateRecord {
  return { ...r, phase: "failed", reason, message, retryAt: undefined };
}

/**
 * The record after `rauc install` finished. A busy RAUC (another installation still running, e.g.
 * one a restarted player had started) is asked again later, and that attempt does not count.
 */
export function afterInstall(
  r: UpdateRecord,
  result: InstallResult,
  status: RaucStatus | undefined,
  bootId: string,
  now: Date,
  busyRetryMs = 30_000,
): UpdateRecord {
  if (result.type === "Busy") {
    return {
      ...r,
      installAttempts: Math.max(0, r.installAttempts - 1),
      message: result.message,
      retryAt: new Date(now.getTime() + busyRetryMs).toISOString(),
    };
  }
  if (result.type === "Failed") return finalFailure(r, result.reason, result.message);
  return {
    ...r,
    phase: "rebooting",
    targetSlot: installedSlot(r, status),
    bootId,
    rebootAttempts: 0,
    message: "",
    retryAt: undefined,
  };
}

/**
 * The slot RAUC installed into: the one it made primary, else the other slot of the booted one's
 * class. RAUC picks the target itself; we read it back rather than guess before installing.
 */
function installedSlot(r: UpdateRecord, status: RaucStatus | undefined): string {
  if (!status) return "";
  if (status.primary !== "" && status.primary !== r.fromSlot) return status.primary;
  const booted = status.slots.find((s) => s.bootname === status.booted);
  const other = status.slots.find((s) => s.class === booted?.class && s.bootname !== status.booted && s.bootname);
  return other?.bootname ?? "";
}

/** The rollback's steps: keep the running (old) slot as the next boot, then record and report ROLLED_BACK. */
function rollback(r: UpdateRecord, message: string, status: RaucStatus, cur: UpdateCurrent): UpdateStep[] {
  const running = status.slots.find((s) => s.bootname === status.booted);
  // Always, even when RAUC already names the running slot primary: its U-Boot backend calls the first slot of
  // BOOT_ORDER *with tries left* primary, so a failed slot that spent its tries still heads BOOT_ORDER (seen under
  // QEMU: "A B", A=0) and comes first again once U-Boot refills both. mark-active rewrites the order itself.
  const keep: UpdateStep[] = running ? [{ action: "keepOldSlot", slotName: running.name }] : [];
  return [...keep, save(rolledBack(r, message), cur)];
}

function rolledBack(r: UpdateRecord, message: string): UpdateRecord {
  return { ...r, phase: "rolled-back", reason: "NOT_HEALTHY", message };
}

function gateDeadline(r: UpdateRecord, ctx: UpdatePlanContext): Date {
  const started = r.gateStartedAt ? Date.parse(r.gateStartedAt) : 0;
  return new Date(started + ctx.healthDeadlineMs);
}

function save(record: UpdateRecord, cur: UpdateCurrent): UpdateStep {
  return { action: "save", record: { ...record, updatedAt: cur.now.toISOString() } };
}

/** True when the record is about the update `d` asks for (same rollout, version and bundle). */
export function sameUpdate(r: UpdateRecord, d: OsUpdate): boolean {
  return r.rolloutId === d.rolloutId && r.version === d.version && r.bundle.sha256 === (d.bundle?.sha256 ?? "");
}

function newRecord(d: OsUpdate, cur: UpdateCurrent): UpdateRecord {
  return {
    v: 1,
    rolloutId: d.rolloutId,
    releaseId: d.releaseId,
    version: d.version,
    compatible: d.compatible,
    bundle: {
      sha256: d.bundle?.sha256 ?? "",
      sizeBytes: Number(d.bundle?.sizeBytes ?? 0n),
      url: d.bundle?.url ?? "",
    },
    rebootPolicy: d.rebootPolicy === RebootPolicy.NOW ? "now" : "quiet",
    phase: "downloading",
    message: "",
    fromSlot: cur.system.type === "Rauc" ? cur.system.status.booted : "",
    fromVersion: cur.imageVersion,
    targetSlot: "",
    installAttempts: 0,
    rebootAttempts: 0,
    activations: 0,
    bootId: cur.bootId,
    failures: 0,
    updatedAt: cur.now.toISOString(),
  };
}
