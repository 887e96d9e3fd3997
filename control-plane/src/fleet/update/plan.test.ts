import { UpdateFailureReason, UpdatePhase } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { PauseReason, RolloutState } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { describe, expect, it } from "vitest";
import {
  applyHello,
  applyReport,
  commandStep,
  emptyTally,
  nextStep,
  type PhaseTally,
  planWaves,
  type RolloutSnapshot,
  type ScreenUpdateState,
  wavePercentsProblem,
} from "./plan.ts";

describe("waves", () => {
  it("split screens by cumulative percents, rounding up, each wave at least one screen", () => {
    expect(planWaves(20, [1, 5, 25, 100])).toEqual([
      { percent: 1, screenCount: 1 },
      { percent: 5, screenCount: 1 },
      { percent: 25, screenCount: 3 },
      { percent: 100, screenCount: 15 },
    ]);
    expect(planWaves(1000, [1, 5, 25, 100]).map((wave) => wave.screenCount)).toEqual([10, 40, 200, 750]);
    expect(planWaves(7, [50, 100])).toEqual([
      { percent: 50, screenCount: 4 },
      { percent: 100, screenCount: 3 },
    ]);
  });

  it("drop waves left without a screen and make the last one 100 %", () => {
    expect(planWaves(2, [1, 5, 25, 100])).toEqual([
      { percent: 1, screenCount: 1 },
      { percent: 100, screenCount: 1 },
    ]);
    expect(planWaves(1, [1, 5, 25, 100])).toEqual([{ percent: 100, screenCount: 1 }]);
    expect(planWaves(0, [1, 100])).toEqual([]);
  });

  it("refuse percents that are not strictly increasing 1..100 ending at 100", () => {
    expect(wavePercentsProblem([1, 5, 25, 100])).toBeUndefined();
    expect(wavePercentsProblem([100])).toBeUndefined();
    expect(wavePercentsProblem([])).toBeUndefined();
    expect(wavePercentsProblem([5, 5, 100])).toMatch(/strictly increase/);
    expect(wavePercentsProblem([10, 50])).toMatch(/end at 100/);
    expect(wavePercentsProblem([0, 100])).toMatch(/1\.\.100/);
    expect(wavePercentsProblem([50, 101])).toMatch(/1\.\.100/);
  });
});

const pending: ScreenUpdateState = {
  phase: UpdatePhase.PENDING,
  bytesDone: 0n,
  bytesTotal: 0n,
  reason: UpdateFailureReason.UNSPECIFIED,
  message: "",
};
const report = (phase: UpdatePhase, fields: Partial<Parameters<typeof applyReport>[1]> = {}) => ({
  version: "2026.12.1",
  phase,
  bytesDone: 0n,
  bytesTotal: 1000n,
  reason: UpdateFailureReason.UNSPECIFIED,
  message: "",
  ...fields,
});
const running = { releaseVersion: "2026.12.1", helloImageVersion: "2026.11.0" };
const booted = { releaseVersion: "2026.12.1", helloImageVersion: "2026.12.1" };

describe("a screen's reports", () => {
  it("move it forward phase by phase, and a resent report changes nothing", () => {
    const downloading = applyReport(pending, report(UpdatePhase.DOWNLOADING, { bytesDone: 10n }), running);
    expect(downloading).toMatchObject({ kind: "phase", next: { phase: UpdatePhase.DOWNLOADING, bytesDone: 10n } });
    if (downloading.kind !== "phase") throw new Error("expected a phase");
    expect(applyReport(downloading.next, report(UpdatePhase.DOWNLOADING, { bytesDone: 10n }), running)).toEqual({
      kind: "unchanged",
    });
    expect(applyReport(downloading.next, report(UpdatePhase.DOWNLOADING, { bytesDone: 600n }), running)).toMatchObject({
      kind: "progress",
      next: { phase: UpdatePhase.DOWNLOADING, bytesDone: 600n },
    });
    // An older progress report arriving late never moves the bytes back.
    const ahead = { ...downloading.next, bytesDone: 900n };
    expect(applyReport(ahead, report(UpdatePhase.DOWNLOADING, { bytesDone: 600n }), running)).toEqual({
      kind: "unchanged",
    });
  });

  it("ignore a phase that arrives after a later one, and anything after an end phase", () => {
    const installing = { ...pending, phase: UpdatePhase.INSTALLING };
    expect(applyReport(installing, report(UpdatePhase.DOWNLOADING), running)).toMatchObject({ kind: "ignored" });
    const healthy = { ...pending, phase: UpdatePhase.HEALTHY };
    expect(applyReport(healthy, report(UpdatePhase.DOWNLOADING), booted)).toMatchObject({
      kind: "ignored",
      why: expect.stringMatching(/already ended/),
    });
    expect(applyReport(healthy, report(UpdatePhase.HEALTHY), booted)).toEqual({ kind: "unchanged" });
    const failed = { ...pending, phase: UpdatePhase.FAILED, reason: UpdateFailureReason.NO_SPACE };
    expect(applyReport(failed, report(UpdatePhase.HEALTHY), booted)).toMatchObject({ kind: "ignored" });
  });

  it("ignore a report about another version", () => {
    expect(applyReport(pending, report(UpdatePhase.DOWNLOADING, { version: "2025.1.0" }), running)).toMatchObject({
      kind: "ignored",
      why: expect.stringMatching(/2025\.1\.0/),
    });
  });

  it("keep the failure reason of FAILED and ROLLED_BACK only", () => {
    const failed = applyReport(
      pending,
      report(UpdatePhase.FAILED, { reason: UpdateFailureReason.NO_SPACE, message: "no room" }),
      running,
    );
    expect(failed).toMatchObject({
      kind: "phase",
      next: { phase: UpdatePhase.FAILED, reason: UpdateFailureReason.NO_SPACE, message: "no room" },
    });
    const rebooting = applyReport(
      pending,
      report(UpdatePhase.REBOOTING, { reason: UpdateFailureReason.NO_SPACE }),
      running,
    );
    expect(rebooting).toMatchObject({ kind: "phase", next: { reason: UpdateFailureReason.UNSPECIFIED } });
  });

  it("count HEALTHY only from a screen whose Hello names the release, and hold it otherwise", () => {
    const rebooting = { ...pending, phase: UpdatePhase.REBOOTING };
    const held = applyReport(rebooting, report(UpdatePhase.HEALTHY), running);
    expect(held).toMatchObject({
      kind: "progress",
      next: { phase: UpdatePhase.REBOOTING, message: expect.stringMatching(/runs "2026\.11\.0"/) },
    });
    if (held.kind !== "progress") throw new Error("expected progress");
    expect(applyReport(held.next, report(UpdatePhase.HEALTHY), running)).toEqual({ kind: "unchanged" });
    expect(applyReport(held.next, report(UpdatePhase.HEALTHY), booted)).toMatchObject({
      kind: "phase",
      next: { phase: UpdatePhase.HEALTHY },
    });
  });

  it("make a PENDING screen whose Hello already names the release HEALTHY, and no other", () => {
    expect(applyHello(pending, "2026.12.1", "2026.12.1")).toMatchObject({
      kind: "phase",
      next: { phase: UpdatePhase.HEALTHY },
    });
    expect(applyHello(pending, "2026.11.0", "2026.12.1")).toEqual({ kind: "unchanged" });
    expect(applyHello(pending, "", "")).toEqual({ kind: "unchanged" });
    expect(applyHello({ ...pending, phase: UpdatePhase.REBOOTING }, "2026.12.1", "2026.12.1")).toEqual({
      kind: "unchanged",
    });
  });
});

const tally = (fields: Partial<PhaseTally>): PhaseTally => ({ ...emptyTally(), ...fields });
const started = new Date("2026-12-06T10:00:00Z");
function rollout(fields: Partial<RolloutSnapshot> = {}): RolloutSnapshot {
  return {
    id: "ro",
    tenantId: "t",
    state: RolloutState.RUNNING,
    pauseReason: PauseReason.UNSPECIFIED,
    currentWave: 0,
    maxFailurePercent: 10,
    waves: [
      {
        percent: 10,
        screenCount: 2,
        failuresAccepted: 0,
        startedAt: undefined,
        finishedAt: undefined,
        counts: tally({ pending: 2 }),
      },
      {
        percent: 100,
        screenCount: 18,
        failuresAccepted: 0,
        startedAt: undefined,
        finishedAt: undefined,
        counts: tally({ pending: 18 }),
      },
    ],
    ...fields,
  };
}

describe("the rollout planner", () => {
  it("starts the current wave, waits for it, finishes it, advances and completes", () => {
    const fresh = rollout();
    expect(nextStep(fresh)).toEqual({ action: "startWave", wave: 0 });
    const [first, second] = fresh.waves;
    if (!first || !second) throw new Error("two waves");
    first.startedAt = started;
    first.counts = tally({ healthy: 1, downloading: 1 });
    expect(nextStep(fresh)).toBeUndefined();
    first.counts = tally({ healthy: 2 });
    expect(nextStep(fresh)).toEqual({ action: "finishWave", wave: 0 });
    first.finishedAt = started;
    expect(nextStep(fresh)).toEqual({ action: "advance", wave: 1 });
    fresh.currentWave = 1;
    expect(nextStep(fresh)).toEqual({ action: "startWave", wave: 1 });
    second.startedAt = started;
    second.counts = tally({ healthy: 17, failed: 1 });
    expect(nextStep(fresh)).toEqual({ action: "finishWave", wave: 1 });
    second.finishedAt = started;
    expect(nextStep(fresh)).toEqual({ action: "complete" });
    expect(nextStep({ ...fresh, state: RolloutState.COMPLETED })).toBeUndefined();
  });

  it("pauses when failed + rolled back exceed the threshold share of the wave, not at it", () => {
    const snapshot = rollout({ currentWave: 1, maxFailurePercent: 10 });
    const [first, wave] = snapshot.waves;
    if (!first || !wave) throw new Error("two waves");
    first.startedAt = first.finishedAt = started;
    wave.startedAt = started;
    wave.screenCount = 20;
    wave.counts = tally({ failed: 1, rolledBack: 1, pending: 18 });
    expect(nextStep(snapshot)).toBeUndefined(); // 2 of 20 = 10 %: not above
    wave.counts = tally({ failed: 2, rolledBack: 1, pending: 17 });
    expect(nextStep(snapshot)).toEqual({ action: "pause", reason: PauseReason.FAILURE_THRESHOLD });
    // Zero tolerates no failure at all.
    wave.counts = tally({ failed: 1, pending: 19 });
    expect(nextStep({ ...snapshot, maxFailurePercent: 0 })).toEqual({
      action: "pause",
      reason: PauseReason.FAILURE_THRESHOLD,
    });
  });

  it("resumes past the failures it accepted, and pauses again on new ones", () => {
    const snapshot = rollout({ state: RolloutState.PAUSED, pauseReason: PauseReason.FAILURE_THRESHOLD });
    const [wave] = snapshot.waves;
    if (!wave) throw new Error("a wave");
    wave.startedAt = started;
    wave.counts = tally({ failed: 1, pending: 1 });
    expect(nextStep(snapshot)).toBeUndefined();
    expect(commandStep(snapshot, "resume")).toEqual({ step: { action: "resume", wave: 0, failuresAccepted: 1 } });
    const resumed = { ...snapshot, state: RolloutState.RUNNING };
    wave.failuresAccepted = 1;
    expect(nextStep(resumed)).toBeUndefined();
    wave.counts = tally({ failed: 1, healthy: 1 });
    expect(nextStep(resumed)).toEqual({ action: "finishWave", wave: 0 });
    wave.finishedAt = started;
    expect(nextStep(resumed)).toEqual({ action: "advance", wave: 1 });
    wave.finishedAt = undefined;
    wave.counts = tally({ failed: 1, rolledBack: 1 });
    expect(nextStep(resumed)).toEqual({ action: "finishWave", wave: 0 });
    wave.finishedAt = started;
    expect(nextStep(resumed)).toEqual({ action: "pause", reason: PauseReason.FAILURE_THRESHOLD });
  });

  it("finishes a wave whose unfinished screens were deleted, judging failures on the screens left", () => {
    const snapshot = rollout();
    const [wave] = snapshot.waves;
    if (!wave) throw new Error("a wave");
    wave.startedAt = started;
    wave.screenCount = 3;
    wave.counts = tally({ healthy: 2 });
    expect(nextStep(snapshot)).toEqual({ action: "finishWave", wave: 0 });
    wave.counts = tally({});
    expect(nextStep(snapshot)).toEqual({ action: "finishWave", wave: 0 });
    wave.finishedAt = started;
    wave.counts = tally({ healthy: 9, failed: 1 });
    expect(nextStep(snapshot)).toEqual({ action: "advance", wave: 1 });
  });

  it("takes pause, resume and abort from a fleet manager, and refuses them on a finished rollout", () => {
    expect(commandStep(rollout(), "pause")).toEqual({ step: { action: "pause", reason: PauseReason.MANUAL } });
    expect(commandStep(rollout(), "resume")).toEqual({ step: undefined });
    expect(commandStep(rollout({ state: RolloutState.PAUSED }), "pause")).toEqual({ step: undefined });
    expect(commandStep(rollout({ state: RolloutState.PAUSED }), "abort")).toEqual({ step: { action: "abort" } });
    for (const state of [RolloutState.COMPLETED, RolloutState.ABORTED]) {
      for (const command of ["pause", "resume", "abort"] as const) {
        expect(commandStep(rollout({ state }), command)).toEqual({
          refused: expect.stringMatching(/cannot be changed/),
        });
      }
    }
  });
});
