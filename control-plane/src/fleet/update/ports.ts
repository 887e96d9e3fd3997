import type { RebootPolicy, UpdatePhase } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import type { PauseReason, RolloutState } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import type { OsUpdateOffers } from "../fleet/ports.ts";
import type {
  PlannedWave,
  RolloutSnapshot,
  RolloutStep,
  ScreenOutcome,
  ScreenUpdateState,
  WaveSnapshot,
} from "./plan.ts";

/** One uploaded, verified bundle. */
export interface ReleaseRecord {
  id: string;
  tenantId: string;
  /** The manifest's `version`. */
  version: string;
  /** The manifest's `compatible`. */
  compatible: string;
  sha256: string;
  sizeBytes: bigint;
  /** Subject of the signing certificate. */
  signer: string;
  notes: string;
  uploadedAt: Date;
  /** User or API-token id. */
  uploadedBy: string;
}

/** A rollout as stored. */
export interface RolloutRecord {
  id: string;
  tenantId: string;
  releaseId: string;
  state: RolloutState;
  pauseReason: PauseReason;
  maxFailurePercent: number;
  rebootPolicy: RebootPolicy;
  currentWave: number;
  createdAt: Date;
  createdBy: string;
  updatedAt: Date;
}

/** A rollout with its release (kept after the release is deleted) and its waves' progress. */
export interface RolloutView {
  rollout: RolloutRecord;
  release: ReleaseRecord;
  waves: WaveSnapshot[];
}

/** A screen's state in one rollout (or, in a history, at one change). */
export interface ScreenUpdateRecord extends ScreenUpdateState {
  rolloutId: string;
  screenId: string;
  screenName: string;
  /** The release's version. */
  version: string;
  wave: number;
  /** When the phase was reached. */
  updatedAt: Date;
}

/** A screen as CreateRollout enters it. */
export interface NewRolloutScreen {
  screenId: string;
  wave: number;
  /** PENDING, or HEALTHY for a screen already running the release. */
  phase: UpdatePhase;
  message: string;
}

/** A keyset position in a list ordered by time then id (newest first). */
export interface TimeCursor {
  at: Date;
  id: string;
}

/** A keyset position in a rollout's screens (by wave, then name in code-point order, then id). */
export interface RolloutScreenCursor {
  wave: number;
  name: string;
  id: string;
}

/** A screen whose desired state must be published again because its offer changed. */
export interface OutboxEntry {
  screenId: string;
  tenantId: string;
  /** Identifies this change: a later change of the same screen gets another. */
  seq: string;
}

/**
 * Everything the update feature stores (src/fleet/update/pg-store.ts on PostgreSQL). Every
 * read that takes an id from a person also takes the caller's tenant: another tenant's row is
 * not found. Each write is one transaction; the rollout and screen writes take a decision
 * function so that the decision is made on rows locked for it.
 */
export interface UpdateStore extends OsUpdateOffers {
  /**
   * Stores a release unless the tenant already has a live release of its version (returned
   * instead). Runs `keepBlob` (moving the bundle into the blob store) inside the transaction,
   * under the advisory lock of its sha256 that blob removal takes too, before the row is inserted.
   */
  insertRelease(release: ReleaseRecord, keepBlob: () => Promise<void>): Promise<{ existing?: ReleaseRecord }>;
  getRelease(tenantId: string, id: string): Promise<ReleaseRecord | undefined>;
  /** Live releases, newest first. */
  listReleases(
    tenantId: string,
    page: { after: TimeCursor | undefined; limit: number },
  ): Promise<{ releases: ReleaseRecord[]; more: boolean }>;
  /**
   * Deletes a release (its row stays for the rollouts and histories naming it, out of every list)
   * unless an unfinished rollout uses it; withdraws the offers of its finished rollouts.
   */
  deleteRelease(
    tenantId: string,
    id: string,
    now: Date,
  ): Promise<{ deleted: ReleaseRecord } | { inUseBy: string } | "not-found">;
  /** Runs `remove` under the sha256's advisory lock when no live release and no video uses the blob. */
  removeBlobIfUnused(sha256: string, remove: () => Promise<void>): Promise<void>;

  /**
   * Inserts a rollout with its waves and screens (each with a first history entry). Refused when
   * the release was deleted meanwhile, or when one of the screens is in another unfinished rollout.
   */
  createRollout(
    rollout: RolloutRecord,
    waves: readonly PlannedWave[],
    screens: readonly NewRolloutScreen[],
  ): Promise<"created" | "release-gone" | { busyScreenId: string; busyRolloutId: string }>;
  getRollout(tenantId: string, id: string): Promise<RolloutView | undefined>;
  /** Newest first. */
  listRollouts(
    tenantId: string,
    page: { after: TimeCursor | undefined; limit: number },
  ): Promise<{ rollouts: RolloutView[]; more: boolean }>;
  /** Ids of every RUNNING or PAUSED rollout, all tenants (the engine re-evaluates them). */
  unfinishedRolloutIds(): Promise<string[]>;
  /**
   * In one transaction with the rollout's row locked: asks `decide` for a step on the rollout's
   * snapshot, applies it, and repeats with the new snapshot until `decide` returns undefined
   * (an error thrown by `decide` rolls everything back). Returns the last snapshot, or undefined
   * when there is no such rollout.
   */
  stepRollout(
    rolloutId: string,
    decide: (rollout: RolloutSnapshot) => RolloutStep | undefined,
    now: Date,
  ): Promise<RolloutSnapshot | undefined>;

  /**
   * In one transaction with the screen's row in the rollout locked: applies what `decide` makes
   * of its state (a new phase is stored with a history entry; FAILED and ROLLED_BACK withdraw the
   * offer). Undefined when the screen is not in that rollout.
   */
  updateScreen(
    rolloutId: string,
    screenId: string,
    decide: (current: ScreenUpdateState, releaseVersion: string) => ScreenOutcome,
    now: Date,
  ): Promise<{ outcome: ScreenOutcome; tenantId: string } | undefined>;
  /** Rollouts in which the screen is still PENDING and which are not finished. */
  pendingRolloutsOf(screenId: string): Promise<string[]>;
  /** One page of a rollout's screens (by wave, name, id), optionally only those in `phases`. */
  listRolloutScreens(
    tenantId: string,
    rolloutId: string,
    query: { phases: readonly UpdatePhase[]; after: RolloutScreenCursor | undefined; limit: number },
  ): Promise<{ screens: ScreenUpdateRecord[]; more: boolean }>;
  /** A screen's history in every rollout, newest first. */
  listScreenUpdates(tenantId: string, screenId: string, limit: number): Promise<ScreenUpdateRecord[]>;

  /** Screens whose offer changed and that are not published yet, oldest change first. */
  pendingPublishes(limit: number): Promise<OutboxEntry[]>;
  /** Forgets entries once published (an entry whose screen changed again since stays). */
  published(entries: readonly OutboxEntry[]): Promise<void>;

  /** True when a rollout of the release with this bundle has the screen (the bundle route's access rule). */
  screenMayFetchBundle(screenId: string, sha256: string): Promise<boolean>;
}
