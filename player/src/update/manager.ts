import { mkdir, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { DesiredState } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import {
  UpdateFailureReason,
  UpdatePhase,
  type UpdateReport,
  UpdateReportSchema,
} from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { AssetFailure, downloadAsset, type HttpGetter, type SpaceProbe } from "../assets/index.ts";
import { type Clock, sleep, type TimerHandle } from "../lib/index.ts";
import { ExclusiveRunner } from "../reconcile/exclusive-runner.ts";
import { fsyncDir, isAbortError, isENOENT, isENOSPC, messageOf } from "../storage/index.ts";
import {
  afterInstall,
  downloadFailed,
  finalFailure,
  planUpdate,
  type SystemView,
  sameUpdate,
  type UpdateCurrent,
  type UpdatePlanContext,
  type UpdateStep,
  type UpdateStepAction,
  type UpdateTarget,
} from "./plan.ts";
import type { UpdatePhaseName, UpdateRecord, UpdateStore } from "./store.ts";
import { type ClipBoundaries, type HealthProbe, type Rauc, RaucUnavailable, type Rebooter } from "./types.ts";

/** Where update reports go (the link keeps the last one and re-sends it after every Welcome). */
export interface UpdateReporter {
  updateReport(report: UpdateReport): void;
}

/** Policy and timing of the {@link UpdateManager}; every field has a default. */
export interface UpdateManagerOptions {
  /** How long a new slot has to prove healthy on one boot; default 300 000 ms (5 min). */
  healthDeadlineMs?: number;
  /** Reboot after a failed gate so the bootloader can go back; default true. */
  rebootAfterFailedGate?: boolean;
  /** Free bytes the bundle must leave on its filesystem; default 0 (main passes min_free_bytes). */
  reserveBytes?: number;
  /** DOWNLOADING reports at most this often; default 5 000 ms (the contract's limit). */
  progressIntervalMs?: number;
  /** Longest wait for a clip boundary before a reboot; default 60 000 ms. */
  clipWaitMs?: number;
  /** Health gate poll period; default 2 000 ms. */
  gatePollMs?: number;
  /** After asking for a reboot that did not happen, ask again after this; default 300 000 ms. */
  rebootRetryMs?: number;
  /** Longest sleep before planning again (a wall-clock step is noticed within it); default 60 000 ms. */
  maxSleepMs?: number;
  /** See {@link UpdatePlanContext}; defaults 3, 3 and 30 000 ms. */
  maxInstallAttempts?: number;
  maxRebootAttempts?: number;
  busyRetryMs?: number;
  /** Uniform [0, 1) source for retry jitter; default Math.random. */
  random?: () => number;
}

/** Dependencies of the {@link UpdateManager}. */
export interface UpdateManagerDeps {
  rauc: Rauc;
  rebooter: Rebooter;
  health: HealthProbe;
  clips: ClipBoundaries;
  store: UpdateStore;
  /** The folder of the bundle (`<data_dir>/v1/update`), on the data partition. */
  dir: string;
  space: SpaceProbe;
  http: HttpGetter;
  /** Resolves the bundle URL (relative ones against the control plane). */
  resolveUrl: (url: string) => URL;
  /** Request headers for a URL (the device token for the control plane's own origin); default none. */
  headers?: (url: URL) => Readonly<Record<string, string>>;
  reporter: UpdateReporter;
  clock: Clock;
  logger: Logger;
  /** This boot's id. */
  bootId: string;
  /** The image's own version (readImageVersion: /etc/avtech/os-release), for when RAUC has no bundle version for the booted slot. */
  imageVersionFallback: () => Promise<string>;
  /** The IANA zone of a desired state (the config's override first), as the schedule reads it. */
  timezoneOf: (state: DesiredState) => string;
  options?: UpdateManagerOptions;
}

/** The update's summary for `avtech-player status` and `doctor`. */
export interface UpdateStatus {
  /** "unsupported: …" when RAUC cannot be used, else "rauc". */
  system: string;
  bootedSlot: string;
  imageVersion: string;
  phase: UpdatePhaseName | undefined;
  rolloutId: string | undefined;
  version: string | undefined;
  reason: string | undefined;
  message: string | undefined;
  bytesDone: number;
  bytesTotal: number;
}

type Outcome = "continue" | "stop";
type Executors = {
  [A in UpdateStepAction]: (step: Extract<UpdateStep, { action: A }>, signal: AbortSignal) => Promise<Outcome>;
};

const phaseOf: Readonly<Record<UpdatePhaseName, UpdatePhase>> = {
  downloading: UpdatePhase.DOWNLOADING,
  installing: UpdatePhase.INSTALLING,
  rebooting: UpdatePhase.REBOOTING,
  confirming: UpdatePhase.REBOOTING,
  healthy: UpdatePhase.HEALTHY,
  failed: UpdatePhase.FAILED,
  "rolled-back": UpdatePhase.ROLLED_BACK,
};

/**
 * Over-the-air OS updates with RAUC: downloads the bundle the applied desired state names
 * (resumable, sha256-verified, into the data partition), installs it into the inactive slot,
 * reboots at the quiet moment, and on the new slot marks it good only once the screen is
 * registered, connected and playing. Progress lives in a small state file, so a power cut at any
 * moment resumes where it was. Plans with the pure {@link planUpdate} and executes through a
 * typed executor table; runs are serialised by an {@link ExclusiveRunner}. Playback is never
 * touched: the last good content plays on while the bundle downloads and installs.
 */
export class UpdateManager {
  readonly #deps: UpdateManagerDeps;
  readonly #runner: ExclusiveRunner;
  readonly #executors: Executors;
  readonly #ctx: UpdatePlanContext;
  #record: UpdateRecord | undefined;
  #system: SystemView = { type: "Unsupported", message: "not checked yet", lasting: false };
  #imageVersion = "";
  #target: UpdateTarget | undefined;
  #timer: TimerHandle | undefined;
  #bytesDone = 0;
  #lastProgressAt = Number.NEGATIVE_INFINITY;
  #stopped = false;
  /** Aborts the bundle download in flight when the desired state stops asking for it. */
  #downloadAbort: AbortController | undefined;

  constructor(deps: UpdateManagerDeps) {
    this.#deps = deps;
    const o = deps.options ?? {};
    this.#ctx = {
      reserveBytes: o.reserveBytes ?? 0,
      healthDeadlineMs: o.healthDeadlineMs ?? 300_000,
      rebootAfterFailedGate: o.rebootAfterFailedGate ?? true,
      maxInstallAttempts: o.maxInstallAttempts ?? 3,
      maxRebootAttempts: o.maxRebootAttempts ?? 3,
      busyRetryMs: o.busyRetryMs ?? 30_000,
    };
    this.#runner = new ExclusiveRunner((signal) => this.#converge(signal));
    this.#executors = this.#buildExecutors();
  }

  /**
   * Loads the state file, asks RAUC about the slots (for Hello's image_version and booted_slot),
   * deletes files in the update folder that belong to no update, and reports where the last
   * update stands (the control plane may not have heard it before a reboot or power cut).
   */
  async open(): Promise<void> {
    const { store, logger, dir } = this.#deps;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const loaded = await store.load();
    if (loaded.type === "Corrupt") logger.error({ err: loaded.error }, "ignoring the unreadable update state file");
    this.#record = loaded.type === "Found" ? loaded.record : undefined;
    await this.#refreshSystem();
    await this.#removeStrayFiles();
    if (this.#system.type === "Unsupported") {
      logger.info({ reason: this.#system.message }, "OS updates are not supported here (no usable RAUC)");
    } else {
      logger.info(
        { bootedSlot: this.#system.status.booted, imageVersion: this.#imageVersion },
        "RAUC is available for OS updates",
      );
    }
    if (this.#record) {
      this.#bytesDone = await this.#partBytes(this.#record);
      this.#report(this.#record);
    }
  }

  /** Takes the applied desired state (from the reconciler) and converges on its os_update. */
  setDesired(state: DesiredState | undefined): Promise<void> {
    const r = this.#record;
    if (r?.phase === "downloading" && !(state?.osUpdate && sameUpdate(r, state.osUpdate))) {
      // A large bundle of a rollout that was aborted or replaced is not fetched to the end.
      this.#downloadAbort?.abort(new Error("superseded"));
    }
    this.#target = {
      osUpdate: state?.osUpdate,
      displayHours: state?.settings?.displayHours ?? [],
      timezone: state ? this.#deps.timezoneOf(state) : Intl.DateTimeFormat().resolvedOptions().timeZone,
    };
    return this.runNow();
  }

  /** Runs the loop now (used once at start-up, so an installed update proceeds before any desired state). */
  runNow(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    return this.#runner.trigger();
  }

  /** For Hello: the running release and RAUC's booted slot ("" when unknown). */
  facts(): { imageVersion: string; bootedSlot: string } {
    return {
      imageVersion: this.#imageVersion,
      bootedSlot: this.#system.type === "Rauc" ? this.#system.status.booted : "",
    };
  }

  /**
   * True when `bootedSlot` is the new slot of an installed update that has not been confirmed yet: its health
   * gate marks it good or lets the bootloader fall back, so nothing else may mark it good.
   */
  awaitsGateOn(bootedSlot: string): boolean {
    const r = this.#record;
    return r !== undefined && (r.phase === "rebooting" || r.phase === "confirming") && r.targetSlot === bootedSlot;
  }

  /** Summary for the status file. */
  status(): UpdateStatus {
    const r = this.#record;
    return {
      system: this.#system.type === "Rauc" ? "rauc" : `unsupported: ${this.#system.message}`,
      ...this.facts(),
      phase: r?.phase,
      rolloutId: r?.rolloutId,
      version: r?.version,
      reason: r?.reason,
      message: r?.message || undefined,
      bytesDone: r?.phase === "downloading" ? this.#bytesDone : r && r.phase !== "failed" ? r.bundle.sizeBytes : 0,
      bytesTotal: r?.bundle.sizeBytes ?? 0,
    };
  }

  /** Stops: an in-flight download is aborted (its part is kept for resume), timers are disarmed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    await this.#runner.stop();
    this.#timer?.cancel();
  }

  async #converge(signal: AbortSignal): Promise<void> {
    const { logger, clock } = this.#deps;
    try {
      for (let round = 0; !signal.aborted; round++) {
        if (round > 50) throw new Error("the update plan did not settle after 50 rounds");
        await this.#refreshSystem();
        const target = this.#target ?? this.#untilTargetKnown();
        if (!target) return;
        const steps = planUpdate(await this.#current(), target, this.#ctx);
        if (steps.length === 0) return;
        logger.debug({ steps: steps.map((s) => s.action) }, "update plan");
        for (const step of steps) {
          const executor = this.#executors[step.action] as (s: UpdateStep, signal: AbortSignal) => Promise<Outcome>;
          if ((await executor(step, signal)) === "stop") return;
        }
      }
    } catch (error) {
      if (isAbortError(error) || signal.aborted) return;
      logger.error({ err: error }, "OS update step failed; trying again in a minute");
      this.#arm(new Date(clock.now().getTime() + 60_000));
    }
  }

  /**
   * Before the first desired state is known, only an installed update (reboot, health gate) goes
   * on, as if the state still asked for it; anything earlier waits, so a start-up before the last
   * good state is loaded never abandons a download.
   */
  #untilTargetKnown(): UpdateTarget | undefined {
    const r = this.#record;
    if (!r || (r.phase !== "rebooting" && r.phase !== "confirming")) return undefined;
    return { osUpdate: undefined, displayHours: [], timezone: Intl.DateTimeFormat().resolvedOptions().timeZone };
  }

  async #current(): Promise<UpdateCurrent> {
    const r = this.#record;
    const { dir, space, clock } = this.#deps;
    const complete = r ? await exists(this.#bundlePath(r)) : false;
    return {
      record: r,
      system: this.#system,
      imageVersion: this.#imageVersion,
      bootId: this.#deps.bootId,
      now: clock.now(),
      bundle: { complete, partBytes: r && !complete ? await this.#partBytes(r) : 0 },
      freeBytes: (await space.space(dir)).freeBytes,
      jitter: (this.#deps.options?.random ?? Math.random)(),
    };
  }

  async #refreshSystem(): Promise<void> {
    const fallback = await this.#deps.imageVersionFallback().catch(() => "");
    try {
      const status = await this.#deps.rauc.status();
      this.#system = { type: "Rauc", status };
      const booted = status.slots.find((s) => s.bootname === status.booted);
      this.#imageVersion = booted?.bundleVersion || fallback;
    } catch (error) {
      this.#system = {
        type: "Unsupported",
        message: messageOf(error),
        lasting: error instanceof RaucUnavailable && error.missing,
        busy: error instanceof RaucUnavailable && error.busy,
      };
      this.#imageVersion = fallback;
    }
  }

  #buildExecutors(): Executors {
    const d = this.#deps;
    return {
      save: async (step) => {
        const before = this.#record?.phase;
        await this.#save(step.record);
        if (step.record.phase === "downloading") this.#bytesDone = await this.#partBytes(step.record);
        // Found installed by an install a previous run started (see planUpdate): RAUC copied the bundle.
        if (before === "installing" && step.record.phase === "rebooting") await this.#removeBundle(step.record);
        const level = step.record.phase === "failed" || step.record.phase === "rolled-back" ? "warn" : "info";
        d.logger[level](
          {
            rolloutId: step.record.rolloutId,
            version: step.record.version,
            from: before,
            phase: step.record.phase,
            reason: step.record.reason,
            message: step.record.message || undefined,
          },
          "OS update",
        );
        this.#report(step.record);
        return "continue";
      },
      abandon: async (step) => {
        const r = this.#record;
        d.logger.info({ rolloutId: r?.rolloutId, version: r?.version, reason: step.reason }, "OS update abandoned");
        if (r) await this.#removeBundle(r);
        await d.store.clear();
        this.#record = undefined;
        return "continue";
      },
      download: async (_step, signal) => {
        const r = this.#need();
        const url = d.resolveUrl(r.bundle.url);
        const superseded = new AbortController();
        this.#downloadAbort = superseded;
        try {
          await downloadAsset(
            { sha256: r.bundle.sha256, sizeBytes: r.bundle.sizeBytes, url },
            {
              http: d.http,
              path: this.#bundlePath(r),
              headers: d.headers?.(url) ?? {},
              signal: AbortSignal.any([signal, superseded.signal]),
              // One line per attempt: after a power cut or a dropped link it shows the Range resume at work.
              onResume: (offset) =>
                d.logger.info(
                  { version: r.version, offset, sizeBytes: r.bundle.sizeBytes },
                  offset > 0 ? "bundle download resumed" : "bundle download started",
                ),
              onProgress: (bytes) => this.#progress(r, bytes),
            },
          );
          await fsyncDir(d.dir);
          this.#bytesDone = r.bundle.sizeBytes;
        } catch (error) {
          if (signal.aborted) throw error;
          // Cut short for a newer desired state: planning again abandons or replaces it.
          if (superseded.signal.aborted) return "continue";
          if (isAbortError(error)) throw error;
          const failed = this.#downloadFailure(r, error);
          d.logger.warn(
            { err: messageOf(error), reason: failed.reason, retryAt: failed.retryAt },
            "bundle download failed",
          );
          await this.#executors.save({ action: "save", record: failed }, signal);
        }
        return "continue";
      },
      install: async (_step, signal) => {
        const current = this.#need();
        const r = { ...current, installAttempts: current.installAttempts + 1, retryAt: undefined };
        // Counted before RAUC starts, so an install that takes the machine down cannot loop forever.
        await this.#save(r);
        d.logger.info({ version: r.version, attempt: r.installAttempts }, "rauc install");
        let lastPercent = -1;
        const installing = d.rauc.install(this.#bundlePath(r), (percent, step) => {
          if (percent === lastPercent) return;
          lastPercent = percent;
          d.logger.debug({ percent, step }, "rauc install progress");
        });
        // A stop does not wait for RAUC: its service finishes (or the next start installs again).
        const result = await untilAborted(installing, signal);
        const status = await d.rauc.status().catch(() => undefined);
        const next = {
          ...afterInstall(r, result, status, d.bootId, d.clock.now(), this.#ctx.busyRetryMs),
          updatedAt: d.clock.now().toISOString(),
        };
        await this.#executors.save({ action: "save", record: next }, signal);
        // Installed or refused: the bundle is not needed any more either way (RAUC copied it).
        if (next.phase !== "installing") await this.#removeBundle(r);
        return "continue";
      },
      activate: async (step) => {
        const r = this.#need();
        d.logger.warn(
          { targetSlot: r.targetSlot, slot: step.slotName },
          "restarted on the old slot before the update's reboot; making the new slot the next boot again",
        );
        await d.rauc.markActive(step.slotName);
        await this.#save({
          ...r,
          bootId: d.bootId,
          activations: r.activations + 1,
          updatedAt: d.clock.now().toISOString(),
        });
        return "continue";
      },
      keepOldSlot: async (step) => {
        // Best effort: the rollback is reported whatever RAUC answers.
        try {
          await d.rauc.markActive(step.slotName);
          d.logger.warn({ slot: step.slotName }, "rolled back: the old slot is the next boot again");
        } catch (error) {
          d.logger.warn(
            { err: messageOf(error), slot: step.slotName },
            "rolled back, but could not make the old slot the next boot",
          );
        }
        return "continue";
      },
      waitUntil: async (step) => {
        d.logger.debug({ until: step.at.toISOString(), reason: step.reason }, "OS update waits");
        this.#arm(step.at);
        return "stop";
      },
      reboot: async (step, signal) => {
        await d.clips.next(this.#deps.options?.clipWaitMs ?? 60_000, signal);
        const r = this.#need();
        const next: UpdateRecord = {
          ...r,
          rebootAttempts: r.rebootAttempts + 1,
          message: step.why === "update" ? `rebooting into slot ${r.targetSlot}` : r.message,
          updatedAt: d.clock.now().toISOString(),
        };
        await this.#save(next);
        if (step.why === "update") this.#report(next);
        d.logger.warn(
          { why: step.why, targetSlot: r.targetSlot, attempt: next.rebootAttempts },
          "rebooting for the OS update",
        );
        try {
          await d.rebooter.reboot();
        } catch (error) {
          d.logger.error({ err: error }, "reboot failed; will ask again");
          this.#report({ ...next, message: `reboot failed: ${messageOf(error)}` });
        }
        this.#arm(new Date(d.clock.now().getTime() + (this.#deps.options?.rebootRetryMs ?? 300_000)));
        return "stop";
      },
      healthGate: async (step, signal) => {
        const pollMs = this.#deps.options?.gatePollMs ?? 2_000;
        for (;;) {
          const problems = this.#gateProblems();
          if (problems.length === 0) {
            try {
              await d.rauc.markGood();
              const r = this.#need();
              await this.#executors.save(
                {
                  action: "save",
                  record: {
                    ...r,
                    phase: "healthy",
                    reason: undefined,
                    message: `slot ${r.targetSlot} confirmed healthy and marked good`,
                    updatedAt: d.clock.now().toISOString(),
                  },
                },
                signal,
              );
              return "continue";
            } catch (error) {
              problems.push(`rauc status mark-good failed: ${messageOf(error)}`);
            }
          }
          const now = d.clock.now();
          if (now >= step.deadline) {
            const seconds = Math.round(this.#ctx.healthDeadlineMs / 1000);
            const r = this.#need();
            const message = `not healthy within ${seconds} s: ${problems.join("; ")}`;
            d.logger.error({ targetSlot: r.targetSlot, problems }, "the new OS slot failed its health gate");
            await this.#save({ ...r, message, updatedAt: now.toISOString() });
            this.#report({ ...r, message });
            return "continue";
          }
          await sleep(d.clock, Math.min(pollMs, step.deadline.getTime() - now.getTime()), signal);
        }
      },
      noop: async (step) => {
        d.logger.debug({ reason: step.reason }, "OS update: nothing to do");
        return "stop";
      },
    };
  }

  #gateProblems(): string[] {
    const h = this.#deps.health;
    const problems: string[] = [];
    if (!h.registered()) problems.push("not registered");
    if (!h.streamUp()) {
      const error = h.lastLinkError();
      problems.push(`control-plane stream not up${error ? ` (${error})` : ""}`);
    }
    if (!h.playing()) problems.push("playback is not healthy");
    return problems;
  }

  #downloadFailure(r: UpdateRecord, error: unknown): UpdateRecord {
    const now = this.#deps.clock.now();
    const random = (this.#deps.options?.random ?? Math.random)();
    const withTime = (record: UpdateRecord) => ({ ...record, updatedAt: now.toISOString() });
    if (error instanceof AssetFailure) {
      // A file that is not the one the manifest names will not become it by fetching it again.
      if (error.reason === "CHECKSUM_MISMATCH") return withTime(finalFailure(r, "CHECKSUM_MISMATCH", error.message));
      if (error.reason === "DISK_ERROR" && isENOSPC(error.cause)) {
        return withTime(downloadFailed(r, "NO_SPACE", error.message, now, random));
      }
    }
    return withTime(downloadFailed(r, "DOWNLOAD_FAILED", messageOf(error), now, random));
  }

  #progress(r: UpdateRecord, bytes: number): void {
    this.#bytesDone = bytes;
    const now = this.#deps.clock.now().getTime();
    const interval = this.#deps.options?.progressIntervalMs ?? 5_000;
    if (now - this.#lastProgressAt < interval) return;
    this.#report(r);
  }

  #report(r: UpdateRecord): void {
    const bytesDone =
      r.phase === "downloading"
        ? this.#bytesDone
        : r.phase === "failed" && r.retryAt
          ? this.#bytesDone
          : r.bundle.sizeBytes;
    this.#lastProgressAt = this.#deps.clock.now().getTime();
    this.#deps.reporter.updateReport(
      create(UpdateReportSchema, {
        rolloutId: r.rolloutId,
        version: r.version,
        phase: phaseOf[r.phase],
        bytesDone: BigInt(Math.max(0, bytesDone)),
        bytesTotal: BigInt(r.bundle.sizeBytes),
        reason: r.reason ? UpdateFailureReason[r.reason] : UpdateFailureReason.UNSPECIFIED,
        message: r.message,
        reportedAt: timestampFromDate(this.#deps.clock.now()),
      }),
    );
  }

  async #save(record: UpdateRecord): Promise<void> {
    await this.#deps.store.save(record);
    this.#record = record;
  }

  #need(): UpdateRecord {
    if (!this.#record) throw new Error("no OS update in progress");
    return this.#record;
  }

  #arm(at: Date): void {
    if (this.#stopped) return;
    this.#timer?.cancel();
    const { clock } = this.#deps;
    const delay = Math.max(0, Math.min(at.getTime() - clock.now().getTime(), this.#deps.options?.maxSleepMs ?? 60_000));
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#runner.trigger();
    }, delay);
  }

  #bundlePath(r: UpdateRecord): string {
    return join(this.#deps.dir, `${r.bundle.sha256}.raucb`);
  }

  async #partBytes(r: UpdateRecord): Promise<number> {
    try {
      return (await stat(`${this.#bundlePath(r)}.part`)).size;
    } catch (error) {
      if (isENOENT(error)) return 0;
      throw error;
    }
  }

  async #removeBundle(r: UpdateRecord): Promise<void> {
    await rm(this.#bundlePath(r), { force: true });
    await rm(`${this.#bundlePath(r)}.part`, { force: true });
    await fsyncDir(this.#deps.dir);
  }

  /** Bundles and parts of other updates, and temp files of a killed atomic write, are deleted at start-up. */
  async #removeStrayFiles(): Promise<void> {
    const { dir, store } = this.#deps;
    const keep = new Set<string>([store.path.slice(dir.length + 1)]);
    const r = this.#record;
    if (r && (r.phase === "downloading" || r.phase === "installing" || (r.phase === "failed" && r.retryAt))) {
      keep.add(`${r.bundle.sha256}.raucb`);
      keep.add(`${r.bundle.sha256}.raucb.part`);
    }
    let removed = false;
    for (const name of await readdir(dir)) {
      if (keep.has(name)) continue;
      await rm(join(dir, name), { recursive: true, force: true });
      removed = true;
    }
    if (removed) await fsyncDir(dir);
  }
}

/** Resolves with `work`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isENOENT(error)) return false;
    throw error;
  }
}
