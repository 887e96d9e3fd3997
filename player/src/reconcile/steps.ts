import type { DesiredState } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import type { AssetFailureReason, CacheSnapshot } from "../assets/index.ts";

/** A failure to report for a version, as a SyncFailure. */
export interface FailureReport {
  reason: AssetFailureReason;
  message: string;
  assetSha256: string;
  neededBytes: number;
  availableBytes: number;
}

/** One idempotent step of convergence; every step is safe to repeat after a crash. */
export type Step =
  /** Hash a cached file found at start-up; delete it when corrupt. */
  | { action: "verify"; sha256: string }
  /** Delete an unreferenced file (least recently played first) to respect the quota. */
  | { action: "evict"; sha256: string }
  /** Fetch a missing asset into the cache (resumable, verified before it gets its name). */
  | { action: "download"; sha256: string; sizeBytes: number; url: string }
  /** Persist `state` as the last good state (all its assets are present and verified). */
  | { action: "writeState"; state: DesiredState }
  /** Hand `state` to the schedule timer, which plays what its rules say now. */
  | { action: "applyPlayback"; state: DesiredState }
  /** Tell the control plane `version` is live. */
  | { action: "ack"; version: bigint }
  /** Tell the control plane why `version` cannot be applied; the last good state keeps playing. */
  | { action: "reportFailure"; version: bigint; failure: FailureReport }
  /** Nothing to do but wait (e.g. the target was refused); a plan of only noops counts as converged. */
  | { action: "noop"; reason: string };

/** The `action` names. */
export type StepAction = Step["action"];

/** Everything the planner looks at; plain data, so planSteps stays pure. */
export interface CurrentState {
  /** The last good state (persisted), or undefined before the first one. */
  applied: DesiredState | undefined;
  /** The state last handed to the schedule timer (by version and hash). */
  playing: { version: bigint; contentHash: string } | undefined;
  /** The last version acked to the control plane by this process. */
  ackedVersion: bigint | undefined;
  /** A version refused as INVALID_STATE: not retried until a different target arrives. */
  rejectedVersion: bigint | undefined;
  /** CLEAR_CACHE was asked: evict every file neither state references. */
  clearUnreferenced: boolean;
  cache: CacheSnapshot;
  /** Epoch ms of the last play per asset (absent = never). */
  lastPlayedAt: ReadonlyMap<string, number>;
  /** Free bytes of the media filesystem now. */
  freeBytes: number;
}

/** Limits the planner enforces. */
export interface PlanContext {
  maxMediaBytes: number;
  minFreeBytes: number;
}
