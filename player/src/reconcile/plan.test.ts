import { describe, expect, it } from "vitest";
import { desiredState } from "../../test/lib/states.ts";
import { ExclusiveRunner } from "./exclusive-runner.ts";
import { planSteps } from "./plan.ts";
import type { CurrentState } from "./steps.ts";

const a = { sha256: "a".repeat(64), sizeBytes: 100, url: "/assets/a" };
const b = { sha256: "b".repeat(64), sizeBytes: 100, url: "/assets/b" };
const limits = { maxMediaBytes: 1_000, minFreeBytes: 0 };

function current(overrides: Partial<CurrentState> = {}): CurrentState {
  return {
    applied: undefined,
    playing: undefined,
    ackedVersion: undefined,
    rejectedVersion: undefined,
    clearUnreferenced: false,
    cache: { verified: new Map(), unverified: new Map(), parts: new Map() },
    lastPlayedAt: new Map(),
    freeBytes: 1e9,
    ...overrides,
  };
}

describe("planSteps", () => {
  it("is empty with nothing to do", () => {
    expect(planSteps(current(), undefined, limits)).toEqual([]);
  });

  it("downloads what is missing before anything else", () => {
    const target = desiredState({ version: 1, playlists: { p: [a, b] } });
    const steps = planSteps(
      current({ cache: { verified: new Map([[a.sha256, 100]]), unverified: new Map(), parts: new Map() } }),
      target,
      limits,
    );
    expect(steps).toEqual([{ action: "download", sha256: b.sha256, sizeBytes: 100, url: "/assets/b" }]);
  });

  it("persists, plays, then acks once every asset is verified", () => {
    const target = desiredState({ version: 1, playlists: { p: [a] } });
    const steps = planSteps(
      current({ cache: { verified: new Map([[a.sha256, 100]]), unverified: new Map(), parts: new Map() } }),
      target,
      limits,
    );
    expect(steps.map((s) => s.action)).toEqual(["writeState", "applyPlayback", "ack"]);
  });

  it("verifies referenced files found at start-up before deciding", () => {
    const target = desiredState({ version: 1, playlists: { p: [a] } });
    const steps = planSteps(
      current({ cache: { verified: new Map(), unverified: new Map([[a.sha256, 100]]), parts: new Map() } }),
      target,
      limits,
    );
    expect(steps).toEqual([{ action: "verify", sha256: a.sha256 }]);
  });

  it("refuses an inconsistent state once", () => {
    const target = desiredState({ version: 2, playlists: { p: [a] }, rules: [{ id: "r", playlistId: "nope" }] });
    const steps = planSteps(current(), target, limits);
    expect(steps).toMatchObject([{ action: "reportFailure", failure: { reason: "INVALID_STATE" } }]);
    const a1 = desiredState({ version: 1, playlists: { p: [a] } });
    const settled = current({
      rejectedVersion: 2n,
      applied: a1,
      playing: { version: 1n, contentHash: a1.contentHash },
      ackedVersion: 1n,
      cache: { verified: new Map([[a.sha256, 100]]), unverified: new Map(), parts: new Map() },
    });
    expect(planSteps(settled, target, limits)).toMatchObject([{ action: "noop" }]);
  });
});

describe("ExclusiveRunner", () => {
  it("never overlaps runs and coalesces triggers made during a run", async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const runner = new ExclusiveRunner(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      active--;
    });
    await Promise.all([runner.trigger(), runner.trigger(), runner.trigger(), runner.trigger()]);
    expect(maxActive).toBe(1);
    expect(runs).toBe(2);
  });
});
