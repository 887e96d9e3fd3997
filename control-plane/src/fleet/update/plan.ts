import { UpdateFailureReason, UpdatePhase, type UpdateReport } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { PauseReason, RolloutState } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";

/*
 * The rollout engine's decisions, with no I/O: how screens are split into waves, what a screen's
 * report or Hello does to its state in a rollout, and what a rollout does next. The store applies
 * the decisions in one transaction each (src/fleet/update/pg-store.ts); the engine wires the two.
 */

/** Cumulative wave shares when CreateRollout gives none: one screen first on fleets up to 100. */
export const defaultWavePercents: readonly number[] = [1, 5, 25, 100];
/** Failed + rolled-back share of a wave above which the rollout pauses, when CreateRollout gives none. */
export const defaultMaxFailurePercent = 10;

/** What is wrong with `percents` as CreateRollout's wave_percents, or undefined when they are fine. */
export function wavePercentsProblem(percents: readonly number[]): string | undefined {
  if (percents.length > 100) return "wave_percents may list at most 100 waves";
  let previous = 0;
  for (const percent of percents) {
    if (!Number.isInteger(percent) || percent < 1 || percent > 100) {
      return `wave_percents must each be 1..100, got ${percent}`;
    }
    if (percent <= previous) {
      return `wave_percents are cumulative and must strictly increase, got ${percents.join(", ")}`;
    }
    previous = percent;
  }
  if (percents.length > 0 && previous !== 100) {
    return `wave_percents must end at 100 (every screen), got ${percents.join(", ")}`;
  }
  return undefined;
}

/** One wave as planned: its cumulative share and how many screens it adds. */
export interface PlannedWave {
  percent: number;
  screenCount: number;
}

/**
 * Splits `screenCount` screens into waves by cumulative `percents` (valid per
 * {@link wavePercentsProblem}): by the end of wave i, ceil(screenCount × percents[i] / 100)
 * screens, and every wave at least one screen more than the one before. Waves that would be
 * left without a screen (more waves than screens) are dropped, and the last wave is then 100 %.
 */
export function planWaves(screenCount: number, percents: readonly number[]): PlannedWave[] {
  const waves: PlannedWave[] = [];
  let covered = 0;
  for (const percent of percents) {
    if (covered === screenCount) break;
    const target = Math.min(screenCount, Math.max(Math.ceil((screenCount * percent) / 100), covered + 1));
    waves.push({ percent, screenCount: target - covered });
    covered = target;
  }
  const last = waves.at(-1);
  if (last) last.percent = 100;
  return waves;
}

/** How far along a phase is; reports never move a screen back to a lower rank. */
const phaseRank: Record<UpdatePhase, number> = {
  [UpdatePhase.UNSPECIFIED]: 0,
  [UpdatePhase.PENDING]: 1,
  [UpdatePhase.DOWNLOADING]: 2,
  [UpdatePhase.INSTALLING]: 3,
  [UpdatePhase.REBOOTING]: 4,
  [UpdatePhase.HEALTHY]: 5,
  [UpdatePhase.FAILED]: 5,
  [UpdatePhase.ROLLED_BACK]: 5,
};

/** True for the phases a screen ends a rollout in: HEALTHY, FAILED, ROLLED_BACK. */
export function isEndPhase(phase: UpdatePhase): boolean {
  return phase === UpdatePhase.HEALTHY || phase === UpdatePhase.FAILED || phase === UpdatePhase.ROLLED_BACK;
}

/** True for a phase value the contract defines other than UNSPECIFIED (what a screen may report). */
export function isReportablePhase(phase: number): phase is UpdatePhase {
  return phase in phaseRank && phase !== UpdatePhase.UNSPECIFIED;
}

/** A screen's state in one rollout, as stored. */
export interface ScreenUpdateState {
  phase: UpdatePhase;
  bytesDone: bigint;
  bytesTotal: bigint;
  reason: UpdateFailureReason;
  message: string;
}

/** What a report or Hello does to a screen's state in a rollout. */
export type ScreenOutcome =
  /** Nothing changes (a resent report, or a Hello that proves nothing). */
  | { kind: "unchanged" }
  /** Nothing changes, and the report contradicts what is stored (out of order, another version). */
  | { kind: "ignored"; why: string }
  /** The phase stays; progress or the message changes. No history entry. */
  | { kind: "progress"; next: ScreenUpdateState }
  /** A new phase: stored with a history entry. */
  | { kind: "phase"; next: ScreenUpdateState };

/** The larger of two byte counts (Math.max takes no bigint). */
function largerOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Longest message kept from a screen. */
const maxMessageLength = 1000;

/**
 * What `report` does to a screen in a rollout that installs `releaseVersion`, given the
 * `image_version` of the Hello on the stream that carried it:
 *
 * - a report about another version, and any report after an end phase, is ignored (a screen
 *   ends a rollout once: a late DOWNLOADING after HEALTHY is a message that arrived out of order);
 * - a phase of lower rank than the stored one is ignored, the same phase only moves the progress
 *   forward (a resent report changes nothing), a higher one is a new phase;
 * - HEALTHY counts only when that Hello says the screen runs `releaseVersion` (it booted the new
 *   slot); otherwise the phase stays and the message says what is awaited, so the screen's next
 *   HEALTHY after a Hello with the right version counts.
 */
export function applyReport(
  current: ScreenUpdateState,
  report: Pick<UpdateReport, "version" | "phase" | "bytesDone" | "bytesTotal" | "reason" | "message">,
  context: { releaseVersion: string; helloImageVersion: string },
): ScreenOutcome {
  if (report.version !== context.releaseVersion) {
    return {
      kind: "ignored",
      why: `the report is about ${report.version}; the rollout installs ${context.releaseVersion}`,
    };
  }
  if (isEndPhase(current.phase)) {
    return report.phase === current.phase
      ? { kind: "unchanged" }
      : { kind: "ignored", why: `the screen already ended this rollout as ${UpdatePhase[current.phase]}` };
  }
  const reportRank = phaseRank[report.phase];
  const currentRank = phaseRank[current.phase];
  if (reportRank < currentRank) {
    return {
      kind: "ignored",
      why: `${UpdatePhase[report.phase]} arrived after ${UpdatePhase[current.phase]} (out of order)`,
    };
  }
  const message = report.message.slice(0, maxMessageLength);
  if (report.phase === UpdatePhase.HEALTHY && context.helloImageVersion !== context.releaseVersion) {
    const awaited = `reported HEALTHY while its Hello says it runs "${context.helloImageVersion}"; it counts once the screen connects running ${context.releaseVersion}`;
    return current.message === awaited
      ? { kind: "unchanged" }
      : { kind: "progress", next: { ...current, message: awaited } };
  }
  if (reportRank === currentRank) {
    const next: ScreenUpdateState = {
      ...current,
      bytesDone: largerOf(report.bytesDone, current.bytesDone),
      bytesTotal: report.bytesTotal > 0n ? report.bytesTotal : current.bytesTotal,
      message: message || current.message,
    };
    const same =
      next.bytesDone === current.bytesDone &&
      next.bytesTotal === current.bytesTotal &&
      next.message === current.message;
    return same ? { kind: "unchanged" } : { kind: "progress", next };
  }
  const failed = report.phase === UpdatePhase.FAILED || report.phase === UpdatePhase.ROLLED_BACK;
  return {
    kind: "phase",
    next: {
      phase: report.phase,
      bytesDone: report.bytesDone,
      bytesTotal: report.bytesTotal > 0n ? report.bytesTotal : current.bytesTotal,
      reason: failed ? report.reason : UpdateFailureReason.UNSPECIFIED,
      message,
    },
  };
}

/**
 * What a Hello naming `imageVersion` does to a screen still PENDING in a rollout of
 * `releaseVersion`: a screen that already runs the release is HEALTHY at once (it was updated
 * another way, or by an earlier rollout). A screen past PENDING must report HEALTHY itself.
 */
export function applyHello(current: ScreenUpdateState, imageVersion: string, releaseVersion: string): ScreenOutcome {
  if (current.phase !== UpdatePhase.PENDING || imageVersion === "" || imageVersion !== releaseVersion) {
    return { kind: "unchanged" };
  }
  return {
    kind: "phase",
    next: {
      phase: UpdatePhase.HEALTHY,
      bytesDone: 0n,
      bytesTotal: current.bytesTotal,
      reason: UpdateFailureReason.UNSPECIFIED,
      message: `already runs ${releaseVersion}`,
    },
  };
}

/** Screens of one wave per phase. */
export interface PhaseTally {
  pending: number;
  downloading: number;
  installing: number;
  rebooting: number;
  healthy: number;
  failed: number;
  rolledBack: number;
}

/** An empty {@link PhaseTally}. */
export function emptyTally(): PhaseTally {
  return { pending: 0, downloading: 0, installing: 0, rebooting: 0, healthy: 0, failed: 0, rolledBack: 0 };
}

/** Adds `count` screens in `phase` to `tally`. */
export function addToTally(tally: PhaseTally, phase: UpdatePhase, count: number): void {
  switch (phase) {
    case UpdatePhase.PENDING:
    case UpdatePhase.UNSPECIFIED:
      tally.pending += count;
      break;
    case UpdatePhase.DOWNLOADING:
      tally.downloading += count;
      break;
    case UpdatePhase.INSTALLING:
      tally.installing += count;
      break;
    case UpdatePhase.REBOOTING:
      tally.rebooting += count;
      break;
    case UpdatePhase.HEALTHY:
      tally.healthy += count;
      break;
    case UpdatePhase.FAILED:
      tally.failed += count;
      break;
    case UpdatePhase.ROLLED_BACK:
      tally.rolledBack += count;
      break;
  }
}

/** A wave as the planner sees it. */
export interface WaveSnapshot {
  percent: number;
  screenCount: number;
  /** Failed + rolled-back screens a ResumeRollout accepted: the threshold counts only those beyond. */
  failuresAccepted: number;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  counts: PhaseTally;
}

/** A rollout as the planner sees it. */
export interface RolloutSnapshot {
  id: string;
  tenantId: string;
  state: RolloutState;
  pauseReason: PauseReason;
  currentWave: number;
  maxFailurePercent: number;
  waves: WaveSnapshot[];
}

/**
 * One change of a rollout, applied by the store in the transaction that decided it. Each
 * variant says what it does to the rollout, its waves and its screens' offers (an offered
 * screen's desired state carries the release's OsUpdate; the store records every screen whose
 * offer changed for publishing).
 */
export type RolloutStep =
  /** Marks the wave started and offers the release to its screens, except failed or rolled-back ones. */
  | { action: "startWave"; wave: number }
  /** Marks the wave finished: every screen of it is in an end phase. */
  | { action: "finishWave"; wave: number }
  /** Makes the wave the current one (the next step starts it). */
  | { action: "advance"; wave: number }
  /** PAUSED with `reason`; PENDING screens are no longer offered the release (those already at it finish). */
  | { action: "pause"; reason: PauseReason }
  /** RUNNING again: the wave's failures so far are accepted, and its screens not failed are offered again. */
  | { action: "resume"; wave: number; failuresAccepted: number }
  /** COMPLETED: the screens are free for another rollout; offers stay (healthy screens keep the release). */
  | { action: "complete" }
  /**
   * ABORTED: screens that have not started installing (PENDING, DOWNLOADING) are no longer
   * offered the release; INSTALLING and later keep it and finish; the screens are free for
   * another rollout.
   */
  | { action: "abort" };

function failures(counts: PhaseTally): number {
  return counts.failed + counts.rolledBack;
}

/** Screens in the wave now: fewer than planned when screens were deleted during the rollout. */
function present(counts: PhaseTally): number {
  return (
    counts.pending +
    counts.downloading +
    counts.installing +
    counts.rebooting +
    counts.healthy +
    counts.failed +
    counts.rolledBack
  );
}

/**
 * The next step of a rollout left to itself, or undefined when it waits for screens (or is
 * finished). The engine applies steps until this returns undefined, so one report can finish a
 * wave, start the next and, if that wave is already healthy, the one after.
 */
export function nextStep(rollout: RolloutSnapshot): RolloutStep | undefined {
  if (rollout.state !== RolloutState.RUNNING && rollout.state !== RolloutState.PAUSED) return undefined;
  const index = rollout.currentWave;
  const wave = rollout.waves[index];
  if (!wave) return undefined;
  const running = rollout.state === RolloutState.RUNNING;
  if (running && !wave.startedAt) return { action: "startWave", wave: index };
  const { counts } = wave;
  const ended = counts.healthy + counts.failed + counts.rolledBack;
  // The wave as it is now: a screen deleted mid-rollout neither holds it up nor counts as a failure.
  const size = present(counts);
  if (wave.startedAt && !wave.finishedAt && ended >= size) return { action: "finishWave", wave: index };
  if (!running) return undefined;
  const newFailures = failures(counts) - wave.failuresAccepted;
  if (newFailures * 100 > rollout.maxFailurePercent * size) {
    return { action: "pause", reason: PauseReason.FAILURE_THRESHOLD };
  }
  if (wave.finishedAt) {
    return index + 1 < rollout.waves.length ? { action: "advance", wave: index + 1 } : { action: "complete" };
  }
  return undefined;
}

/** What a fleet manager can ask of a rollout. */
export type RolloutCommand = "pause" | "resume" | "abort";

/**
 * The step a fleet manager's command makes, or a refusal to explain (FAILED_PRECONDITION).
 * Pausing a paused rollout and resuming a running one change nothing (undefined step).
 */
export function commandStep(
  rollout: RolloutSnapshot,
  command: RolloutCommand,
): { step: RolloutStep | undefined } | { refused: string } {
  const finished = rollout.state === RolloutState.COMPLETED || rollout.state === RolloutState.ABORTED;
  if (finished) {
    return { refused: `rollout ${rollout.id} is ${RolloutState[rollout.state]} and cannot be changed any more` };
  }
  switch (command) {
    case "pause":
      return {
        step: rollout.state === RolloutState.PAUSED ? undefined : { action: "pause", reason: PauseReason.MANUAL },
      };
    case "resume": {
      if (rollout.state === RolloutState.RUNNING) return { step: undefined };
      const wave = rollout.waves[rollout.currentWave];
      return {
        step: { action: "resume", wave: rollout.currentWave, failuresAccepted: wave ? failures(wave.counts) : 0 },
      };
    }
    case "abort":
      return { step: { action: "abort" } };
  }
}
