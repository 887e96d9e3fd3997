import type { DesiredState } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import type { Logger } from "pino";
import { type AssetCache, AssetFailure, type HttpGetter, type PlayTimes } from "../assets/index.ts";
import { Backoff, type Clock, runLimited, type TimerHandle } from "../lib/index.ts";
import { isAbortError, messageOf } from "../storage/index.ts";
import { ExclusiveRunner } from "./exclusive-runner.ts";
import { planSteps } from "./plan.ts";
import type { StateStore } from "./state-store.ts";
import type { CurrentState, FailureReport, PlanContext, Step, StepAction } from "./steps.ts";

/** Where the reconciler reports outcomes (the link queues them while offline). */
export interface SyncReporter {
  applied(version: bigint, at: Date): void;
  failed(version: bigint, failure: FailureReport, attempt: number): void;
}

/** What plays a state: the schedule timer. Resolves once playback was told what to show. */
export interface StatePlayer {
  playState(state: DesiredState): Promise<void>;
}

/** Takes the applied desired state's OS update part (the update module). */
export interface AppliedStateListener {
  /** Called with the last good state at boot and with every newly applied one; must not throw. */
  applied(state: DesiredState): void;
}

/** Dependencies and limits of the {@link Reconciler}. */
export interface ReconcilerDeps {
  cache: AssetCache;
  playTimes: PlayTimes;
  store: StateStore;
  player: StatePlayer;
  reporter: SyncReporter;
  http: HttpGetter;
  clock: Clock;
  logger: Logger;
  limits: PlanContext;
  /** Resolves an asset URL from the manifest (relative ones against the control plane). */
  resolveUrl: (url: string) => URL;
  /** Headers for an asset request (e.g. the device token for the control plane's origin); default none. */
  assetHeaders?: (url: URL) => Readonly<Record<string, string>>;
  /** Parallel downloads; default 2 (a Pi's SD card and a shop's uplink saturate early). */
  downloadConcurrency?: number;
  /** Retry backoff; default full jitter from 1 s up to 5 min. */
  backoff?: Backoff;
  /** Called with the resume offset of every download response (for tests and metrics). */
  onDownloadResume?: (sha256: string, offset: number) => void;
  /**
   * Told about the last good state at boot and each newly applied state (the OS update module
   * acts on `os_update` only once the state it came in is applied: persisted and playing).
   */
  appliedListener?: AppliedStateListener;
}

/** A one-line summary for `avtech-player status`. */
export interface ReconcilerStatus {
  appliedVersion: string;
  targetVersion: string;
  lastError: { at: string; message: string; reason: string } | undefined;
  retryAt: string | undefined;
}

type Executors = { [A in StepAction]: (step: Extract<Step, { action: A }>, signal: AbortSignal) => Promise<void> };

/**
 * Converges the device onto the newest desired state: plans with the pure {@link planSteps},
 * executes through a typed executor table, repeats until the plan is empty. All runs go
 * through one {@link ExclusiveRunner}. A failure keeps the last good state playing, is
 * reported, and is retried after an exponential backoff with full jitter.
 */
export class Reconciler {
  readonly #deps: ReconcilerDeps;
  readonly #runner: ExclusiveRunner;
  readonly #backoff: Backoff;
  readonly #executors: Executors;
  #target: DesiredState | undefined;
  #applied: DesiredState | undefined;
  #playing: CurrentState["playing"];
  #acked: bigint | undefined;
  #rejected: bigint | undefined;
  #retry: TimerHandle | undefined;
  #retryAt: Date | undefined;
  #failures = new Map<bigint, number>();
  #lastError: ReconcilerStatus["lastError"];
  #clearRequested = false;
  #evictions = 0;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#backoff = deps.backoff ?? new Backoff({ initialMs: 1_000, maxMs: 300_000 });
    this.#runner = new ExclusiveRunner((signal) => this.#converge(signal));
    this.#executors = this.#buildExecutors();
  }

  /**
   * Boot: loads the last good state and plays it at once, before any network, from whatever
   * of its files exist (they are verified right after, in the first run). Then starts converging.
   */
  async boot(): Promise<void> {
    const { store, cache, logger } = this.#deps;
    await this.#deps.playTimes.load();
    const removed = await cache.open();
    if (removed.length > 0) logger.warn({ removed }, "deleted files that do not belong in the media cache");
    const loaded = await store.load();
    if (loaded.type === "Corrupt") logger.error({ err: loaded.error }, "ignoring the unreadable last good state");
    if (loaded.type === "Found") {
      this.#applied = loaded.state;
      await this.#executors.applyPlayback(
        { action: "applyPlayback", state: loaded.state },
        new AbortController().signal,
      );
      logger.info({ version: loaded.state.version.toString() }, "playing the last good state");
      this.#deps.appliedListener?.applied(loaded.state);
    }
    void this.#runner.trigger();
  }

  /** The version on screen (0 = none), for Hello. */
  get appliedVersion(): bigint {
    return this.#applied?.version ?? 0n;
  }

  /** The last good state, if any. */
  get applied(): DesiredState | undefined {
    return this.#applied;
  }

  /** Takes a new desired state from the control plane and converges now (a pending retry is cut short). */
  setTarget(state: DesiredState): Promise<void> {
    if (this.#target?.version !== state.version || this.#target.contentHash !== state.contentHash) {
      this.#backoff.reset();
    }
    this.#target = state;
    return this.runNow();
  }

  /** Verified assets in the cache, for Hello. */
  cachedAssetCount(): number {
    return this.#deps.cache.verifiedCount;
  }

  /** Deletes every cached file the playing and target states do not reference (CLEAR_CACHE); returns how many. */
  async clearCache(): Promise<number> {
    this.#clearRequested = true;
    const before = this.#evictions;
    try {
      await this.runNow();
    } finally {
      this.#clearRequested = false;
    }
    return this.#evictions - before;
  }

  /** Re-verifies every cached file and converges (the RESYNC command). */
  async resync(): Promise<void> {
    await this.#deps.cache.open();
    this.#playing = undefined;
    this.#acked = undefined;
    await this.runNow();
  }

  /** Runs the loop now; resolves when that run finished. */
  runNow(): Promise<void> {
    this.#retry?.cancel();
    this.#retry = undefined;
    this.#retryAt = undefined;
    return this.#runner.trigger();
  }

  /** Summary for the status file. */
  status(): ReconcilerStatus {
    return {
      appliedVersion: this.appliedVersion.toString(),
      targetVersion: (this.#target?.version ?? this.appliedVersion).toString(),
      lastError: this.#lastError,
      retryAt: this.#retryAt?.toISOString(),
    };
  }

  /** Stops converging; an in-flight download is aborted (its part file is kept for resume). */
  async stop(): Promise<void> {
    this.#retry?.cancel();
    await this.#runner.stop();
    // A run that was ending when stop() began may have armed a retry after the cancel above.
    this.#retry?.cancel();
    await this.#deps.playTimes.flush();
  }

  async #current(): Promise<CurrentState> {
    const { cache, playTimes } = this.#deps;
    const snapshot = cache.snapshot();
    const lastPlayedAt = new Map<string, number>();
    for (const map of [snapshot.verified, snapshot.unverified, snapshot.parts]) {
      for (const sha of map.keys()) lastPlayedAt.set(sha, playTimes.get(sha));
    }
    return {
      applied: this.#applied,
      playing: this.#playing,
      ackedVersion: this.#acked,
      rejectedVersion: this.#rejected,
      clearUnreferenced: this.#clearRequested,
      cache: snapshot,
      lastPlayedAt,
      freeBytes: (await cache.space()).freeBytes,
    };
  }

  async #converge(signal: AbortSignal): Promise<void> {
    const { logger, limits } = this.#deps;
    // The target can change between rounds (a newer state arrived); failures name the one planned for.
    let target = this.#target;
    try {
      for (let round = 0; !signal.aborted; round++) {
        if (round > 100) throw new Error("the plan did not converge after 100 rounds");
        target = this.#target;
        const steps = planSteps(await this.#current(), target, limits);
        if (steps.every((s) => s.action === "noop")) break;
        logger.debug({ steps: steps.map((s) => s.action) }, "reconcile plan");
        const downloads = steps.filter((s) => s.action === "download");
        for (const step of steps) {
          if (step.action === "download") continue;
          await this.#execute(step, signal);
          if (step.action === "reportFailure") return;
        }
        await runLimited(downloads, this.#deps.downloadConcurrency ?? 2, (step) => this.#execute(step, signal));
      }
      this.#backoff.reset();
      this.#lastError = undefined;
    } catch (error) {
      if (isAbortError(error) || signal.aborted) return;
      const version = target?.version ?? this.appliedVersion;
      const failure = toFailure(error);
      logger.warn({ err: error, version: version.toString(), reason: failure.reason }, "reconcile failed");
      await this.#execute({ action: "reportFailure", version, failure }, signal);
    }
  }

  #execute(step: Step, signal: AbortSignal): Promise<void> {
    const executor = this.#executors[step.action] as (s: Step, signal: AbortSignal) => Promise<void>;
    return executor(step, signal);
  }

  #buildExecutors(): Executors {
    const d = this.#deps;
    return {
      verify: async (step, signal) => {
        const result = await d.cache.verify(step.sha256, signal);
        if (result.type === "Corrupt") {
          d.logger.error(
            { sha256: step.sha256, actual: result.actual },
            "cached asset is corrupt; deleted for refetch",
          );
        }
      },
      evict: async (step) => {
        await d.cache.remove(step.sha256);
        d.playTimes.forget(step.sha256);
        this.#evictions++;
        d.logger.info({ sha256: step.sha256 }, "evicted asset");
      },
      download: async (step, signal) => {
        const started = performance.now();
        const url = d.resolveUrl(step.url);
        const outcome = await d.cache.download({ sha256: step.sha256, sizeBytes: step.sizeBytes, url }, d.http, {
          signal,
          headers: d.assetHeaders?.(url) ?? {},
          onResume: (offset) => d.onDownloadResume?.(step.sha256, offset),
        });
        d.logger.info(
          {
            sha256: step.sha256,
            bytes: outcome.receivedBytes,
            resumedFrom: outcome.resumedFrom,
            ms: Math.round(performance.now() - started),
          },
          "downloaded asset",
        );
      },
      writeState: async (step) => {
        await d.store.save(step.state);
        this.#applied = step.state;
        this.#failures.delete(step.state.version);
      },
      applyPlayback: async (step) => {
        await d.player.playState(step.state);
        this.#playing = { version: step.state.version, contentHash: step.state.contentHash };
      },
      ack: async (step) => {
        d.reporter.applied(step.version, d.clock.now());
        this.#acked = step.version;
        if (this.#applied?.version === step.version) d.appliedListener?.applied(this.#applied);
      },
      reportFailure: async (step) => {
        const attempt = (this.#failures.get(step.version) ?? 0) + 1;
        this.#failures.set(step.version, attempt);
        this.#lastError = {
          at: d.clock.now().toISOString(),
          message: step.failure.message,
          reason: step.failure.reason,
        };
        d.reporter.failed(step.version, step.failure, attempt);
        if (step.failure.reason === "INVALID_STATE") {
          // Retrying the same document cannot help; wait for the next version.
          this.#rejected = step.version;
          return;
        }
        const delay = this.#backoff.next();
        this.#retryAt = new Date(d.clock.now().getTime() + delay);
        this.#retry = d.clock.setTimeout(() => {
          this.#retry = undefined;
          this.#retryAt = undefined;
          void this.#runner.trigger();
        }, delay);
      },
      noop: async () => {},
    };
  }
}

function toFailure(error: unknown): FailureReport {
  if (error instanceof AssetFailure) {
    return {
      reason: error.reason,
      message: error.message,
      assetSha256: error.assetSha256,
      neededBytes: error.neededBytes,
      availableBytes: error.availableBytes,
    };
  }
  return { reason: "DISK_ERROR", message: messageOf(error), assetSha256: "", neededBytes: 0, availableBytes: 0 };
}
