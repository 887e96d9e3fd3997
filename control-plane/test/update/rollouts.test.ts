import { readFile } from "node:fs/promises";
import { RebootPolicy, UpdateFailureReason, UpdatePhase } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import {
  PauseReason,
  type Release,
  type Rollout,
  RolloutState,
  UpdateService,
} from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../lib/fleet-device.ts";
import { type BundleFactory, createBundleFactory } from "../lib/rauc-bundles.ts";
import type { TestTenant } from "../lib/test-app.ts";
import { startUpdateApp, type UpdateApp } from "../lib/update-app.ts";
import { enrollUpdateScreens, type SimulatedUpdateScreen } from "../lib/update-screens.ts";

const oldImage = "2026.11.0";

describe("OS update rollouts on the real control plane with simulated screens", () => {
  let app: UpdateApp;
  let bundles: BundleFactory;
  let tenant: TestTenant;
  let other: TestTenant;
  const everyScreen: SimulatedUpdateScreen[] = [];

  beforeAll(async () => {
    bundles = await createBundleFactory();
    app = await startUpdateApp({ update: { compatible: bundles.compatible, keyringPath: bundles.keyringPath } });
    [tenant, other] = await Promise.all([app.createTenant("acme"), app.createTenant("globex")]);
  });
  afterAll(async () => {
    await Promise.all(everyScreen.map((screen) => screen.disconnect()));
    await app?.close();
    await bundles?.remove();
  });

  const updates = (token = tenant.tokens.admin) => app.client(UpdateService, token);
  async function release(version: string, owner = tenant): Promise<Release> {
    const path = await bundles.bundle({ version });
    const bytes = await readFile(path);
    async function* messages() {
      yield { part: { case: "metadata" as const, value: { notes: `release ${version}` } } };
      yield { part: { case: "chunk" as const, value: bytes } };
    }
    const { release: stored } = await app.client(UpdateService, owner.tokens.admin).uploadRelease(messages());
    if (!stored) throw new Error("no release");
    return stored;
  }
  async function screensOf(group: string, count: number, image = oldImage) {
    const enrolled = await enrollUpdateScreens(app, tenant, group, count, image);
    everyScreen.push(...enrolled.screens);
    return enrolled;
  }
  const rolloutOf = async (id: string): Promise<Rollout> => {
    const { rollout } = await updates().getRollout({ rolloutId: id });
    if (!rollout) throw new Error("no rollout");
    return rollout;
  };
  const offered = (screens: readonly SimulatedUpdateScreen[], version: string) =>
    screens.filter((screen) => screen.osUpdate?.version === version);
  const historyOf = async (screen: SimulatedUpdateScreen) =>
    (await updates(tenant.tokens.viewer).listScreenUpdates({ screenId: screen.id })).updates;

  it("rolls a release out to 20 screens wave by wave (1, 1, 3, 15) through their desired states and completes", async () => {
    const { groupId, screens } = await screensOf("lobby", 20);
    const stored = await release("2026.12.1");
    const { rollout: created } = await updates().createRollout({
      releaseId: stored.id,
      targets: [{ kind: { case: "groupId", value: groupId } }],
      rebootPolicy: RebootPolicy.NOW,
    });
    expect(created).toMatchObject({
      state: RolloutState.RUNNING,
      currentWave: 0,
      maxFailurePercent: 10,
      rebootPolicy: RebootPolicy.NOW,
      release: { version: "2026.12.1" },
    });
    expect(created?.waves.map((wave) => [wave.percent, wave.screenCount])).toEqual([
      [1, 1],
      [5, 1],
      [25, 3],
      [100, 15],
    ]);
    const rolloutId = created?.id ?? "";

    const waveSizes = [1, 1, 3, 15];
    for (const [wave, cumulative] of [1, 2, 5, 20].entries()) {
      // The wave's screens get the release in a new desired-state version; no other screen does.
      await eventually(() => offered(screens, "2026.12.1").length === cumulative, 10_000);
      const update = offered(screens, "2026.12.1")[0]?.osUpdate;
      expect(update).toMatchObject({
        rolloutId,
        releaseId: stored.id,
        version: "2026.12.1",
        compatible: bundles.compatible,
        bundle: { sha256: stored.sha256, sizeBytes: stored.sizeBytes, url: `/bundles/${stored.sha256}` },
        rebootPolicy: RebootPolicy.NOW,
      });
      expect((await rolloutOf(rolloutId)).currentWave).toBe(wave);
      const installing = offered(screens, "2026.12.1").filter((screen) => screen.imageVersion === oldImage);
      expect(installing).toHaveLength(waveSizes[wave] ?? -1);
      await Promise.all(installing.map((screen) => screen.install("healthy")));
    }
    await eventually(async () => (await rolloutOf(rolloutId)).state === RolloutState.COMPLETED, 10_000);
    const done = await rolloutOf(rolloutId);
    expect(done.waves.map((wave) => wave.counts?.healthy)).toEqual([1, 1, 3, 15]);
    expect(done.waves.every((wave) => wave.startedAt && wave.finishedAt)).toBe(true);
    // Healthy screens keep the release in their desired state.
    expect(offered(screens, "2026.12.1")).toHaveLength(20);

    // The fleet view shows what each screen runs now.
    const { screen } = await app.client(FleetService, tenant.tokens.viewer).getScreen({ id: screens[0]?.id ?? "" });
    expect(screen).toMatchObject({ imageVersion: "2026.12.1", bootedSlot: "B" });
    // A screen's history, newest first, one entry per phase reached.
    expect((await historyOf(screens[0] as SimulatedUpdateScreen)).map((entry) => UpdatePhase[entry.phase])).toEqual([
      "HEALTHY",
      "REBOOTING",
      "INSTALLING",
      "DOWNLOADING",
      "PENDING",
    ]);
    // The rollout's screens, page by page, by wave then name, each once.
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await updates(tenant.tokens.viewer).listRolloutScreens({ rolloutId, pageSize: 7, pageToken });
      seen.push(...page.screens.map((s) => `${s.wave}:${s.screenName}:${UpdatePhase[s.phase]}`));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toHaveLength(20);
    expect(new Set(seen).size).toBe(20);
    expect(seen.every((entry) => entry.endsWith(":HEALTHY"))).toBe(true);
    const waves = seen.map((entry) => Number(entry.split(":")[0]));
    expect(waves).toEqual([...waves].sort((a, b) => a - b));
  });

  it("pauses at the failure threshold, withdraws pending screens, and goes on when resumed", async () => {
    const { groupId, screens } = await screensOf("pause", 10);
    const stored = await release("2026.12.2");
    const { rollout } = await updates().createRollout({
      releaseId: stored.id,
      targets: [{ kind: { case: "groupId", value: groupId } }],
      wavePercents: [30, 100],
      maxFailurePercent: 20,
    });
    const rolloutId = rollout?.id ?? "";
    expect(rollout?.waves.map((wave) => wave.screenCount)).toEqual([3, 7]);
    await eventually(() => offered(screens, "2026.12.2").length === 3);
    const [failing, second, third] = offered(screens, "2026.12.2") as SimulatedUpdateScreen[];
    await failing?.install("failed");
    // 1 of 3 failed = 33 % > 20 %: paused; the two screens that had not started lose the offer.
    await eventually(async () => (await rolloutOf(rolloutId)).state === RolloutState.PAUSED);
    expect(await rolloutOf(rolloutId)).toMatchObject({ pauseReason: PauseReason.FAILURE_THRESHOLD, currentWave: 0 });
    await eventually(() => offered(screens, "2026.12.2").length === 0);
    const failed = (await historyOf(failing as SimulatedUpdateScreen))[0];
    expect(failed).toMatchObject({
      phase: UpdatePhase.FAILED,
      reason: UpdateFailureReason.NO_SPACE,
      message: "rauc: not enough space on the inactive slot",
    });

    const { rollout: resumed } = await updates().resumeRollout({ rolloutId });
    expect(resumed).toMatchObject({ state: RolloutState.RUNNING, pauseReason: PauseReason.UNSPECIFIED });
    // The failed screen is not asked again; the two pending ones are.
    await eventually(() => offered(screens, "2026.12.2").length === 2);
    expect(
      offered(screens, "2026.12.2")
        .map((s) => s.id)
        .sort(),
    ).toEqual([second?.id, third?.id].sort());
    await Promise.all([second?.install("healthy"), third?.install("healthy")]);
    await eventually(() => offered(screens, "2026.12.2").length === 2 + 7);

    // Wave 2: two roll back (2 of 7 = 29 % > 20 %): paused again.
    const wave2 = offered(screens, "2026.12.2").filter((screen) => screen.imageVersion === oldImage);
    expect(wave2).toHaveLength(7);
    await Promise.all(wave2.slice(0, 2).map((screen) => screen.install("rolled-back")));
    await eventually(async () => (await rolloutOf(rolloutId)).state === RolloutState.PAUSED);
    expect((await rolloutOf(rolloutId)).waves[1]?.counts).toMatchObject({ rolledBack: 2, pending: 5 });
    await updates().resumeRollout({ rolloutId });
    await eventually(() => wave2.slice(2).every((screen) => screen.osUpdate?.version === "2026.12.2"));
    await Promise.all(wave2.slice(2).map((screen) => screen.install("healthy")));
    await eventually(async () => (await rolloutOf(rolloutId)).state === RolloutState.COMPLETED);
    const done = await rolloutOf(rolloutId);
    expect(done.waves.map((wave) => wave.counts)).toEqual([
      expect.objectContaining({ healthy: 2, failed: 1 }),
      expect.objectContaining({ healthy: 5, rolledBack: 2 }),
    ]);
    // Rolled-back screens run the old image and are not asked again.
    expect(wave2.slice(0, 2).map((screen) => [screen.imageVersion, screen.osUpdate])).toEqual([
      [oldImage, undefined],
      [oldImage, undefined],
    ]);
  });

  it("aborts: screens not yet installing lose the offer, installing and healthy ones keep it and finish", async () => {
    const { groupId, screens } = await screensOf("abort", 6);
    const stored = await release("2026.12.3");
    const { rollout } = await updates().createRollout({
      releaseId: stored.id,
      targets: [{ kind: { case: "groupId", value: groupId } }],
      wavePercents: [50, 100],
    });
    const rolloutId = rollout?.id ?? "";
    await eventually(() => offered(screens, "2026.12.3").length === 3);
    const [healthy, installing, downloading] = offered(screens, "2026.12.3") as SimulatedUpdateScreen[];
    const about = (screen: SimulatedUpdateScreen | undefined) => ({
      rolloutId,
      version: "2026.12.3",
      bytesTotal: screen?.osUpdate?.bundle?.sizeBytes ?? 0n,
    });
    await healthy?.install("healthy");
    installing?.report({ ...about(installing), phase: UpdatePhase.INSTALLING });
    downloading?.report({ ...about(downloading), phase: UpdatePhase.DOWNLOADING, bytesDone: 100n });
    await Promise.all([installing?.settle(), downloading?.settle()]);

    // While it runs, its screens cannot be in another rollout, and its release cannot go.
    const next = await release("2026.12.4");
    await expect(
      updates().createRollout({
        releaseId: next.id,
        targets: [{ kind: { case: "screenId", value: healthy?.id ?? "" } }],
      }),
    ).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: `screen ${healthy?.id} is already in rollout ${rolloutId}, which is not finished; abort that rollout or leave the screen out`,
    });
    await expect(updates().deleteRelease({ releaseId: stored.id })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: expect.stringContaining(`used by rollout ${rolloutId}`),
    });

    const { rollout: aborted } = await updates().abortRollout({ rolloutId });
    expect(aborted?.state).toBe(RolloutState.ABORTED);
    await eventually(() => downloading?.osUpdate === undefined);
    expect(healthy?.osUpdate?.version).toBe("2026.12.3");
    expect(installing?.osUpdate?.version).toBe("2026.12.3");
    // The second wave never started.
    expect(offered(screens, "2026.12.3")).toHaveLength(2);
    expect((await rolloutOf(rolloutId)).waves[1]?.startedAt).toBeUndefined();
    // The installing screen finishes, and its report still counts.
    if (!installing) throw new Error("no installing screen");
    installing.report({ ...about(installing), phase: UpdatePhase.REBOOTING });
    await installing.settle();
    await installing.reboot("2026.12.3", "B");
    installing.report({ ...about(installing), phase: UpdatePhase.HEALTHY });
    await installing.settle();
    expect((await rolloutOf(rolloutId)).waves[0]?.counts).toMatchObject({ healthy: 2, downloading: 1 });
    // A finished rollout can change no more; its screens are free for the next one.
    await expect(updates().resumeRollout({ rolloutId })).rejects.toMatchObject({ code: Code.FailedPrecondition });
    const { rollout: again } = await updates().createRollout({
      releaseId: next.id,
      targets: [{ kind: { case: "groupId", value: groupId } }],
      wavePercents: [100],
    });
    expect(again?.waves[0]?.screenCount).toBe(6);
    await eventually(() => offered(screens, "2026.12.4").length === 6);
    await updates().abortRollout({ rolloutId: again?.id ?? "" });
  });

  it("changes nothing for a resent or late report, holds HEALTHY until the screen runs the release, and counts a screen already on it", async () => {
    const stored = await release("2026.12.5");
    const { groupId, screens } = await screensOf("order", 2);
    const [updating, current] = screens as [SimulatedUpdateScreen, SimulatedUpdateScreen];
    await current.reboot("2026.12.5", "B");
    const { rollout } = await updates().createRollout({
      releaseId: stored.id,
      targets: [{ kind: { case: "groupId", value: groupId } }],
      wavePercents: [100],
    });
    const rolloutId = rollout?.id ?? "";
    // Already on the release: HEALTHY at once, with no report.
    expect(rollout?.waves[0]?.counts).toMatchObject({ healthy: 1, pending: 1 });
    expect((await historyOf(current))[0]).toMatchObject({
      phase: UpdatePhase.HEALTHY,
      message: "already runs 2026.12.5",
    });

    await eventually(() => updating.osUpdate?.version === "2026.12.5");
    const about = { rolloutId, version: "2026.12.5", bytesTotal: 4096n };
    updating.report({ ...about, phase: UpdatePhase.DOWNLOADING, bytesDone: 1024n });
    updating.report({ ...about, phase: UpdatePhase.DOWNLOADING, bytesDone: 1024n });
    updating.report({ ...about, phase: UpdatePhase.INSTALLING });
    updating.report({ ...about, phase: UpdatePhase.DOWNLOADING, bytesDone: 2048n });
    updating.report({ ...about, phase: UpdatePhase.REBOOTING });
    // HEALTHY from a stream whose Hello names the old image does not count.
    updating.report({ ...about, phase: UpdatePhase.HEALTHY });
    // A report about another rollout (or one this screen is not in) changes nothing.
    updating.report({ ...about, rolloutId: "6d1c5a7e-2f0b-4c1e-9a55-3f3b8c1d2e4f", phase: UpdatePhase.FAILED });
    await updating.settle();
    const held = await updates().listRolloutScreens({ rolloutId, phases: [UpdatePhase.REBOOTING] });
    expect(held.screens).toEqual([
      expect.objectContaining({
        screenId: updating.id,
        message: `reported HEALTHY while its Hello says it runs "${oldImage}"; it counts once the screen connects running 2026.12.5`,
      }),
    ]);
    expect((await rolloutOf(rolloutId)).state).toBe(RolloutState.RUNNING);

    await updating.reboot("2026.12.5", "B");
    updating.report({ ...about, phase: UpdatePhase.HEALTHY });
    updating.report({ ...about, phase: UpdatePhase.HEALTHY });
    updating.report({ ...about, phase: UpdatePhase.DOWNLOADING, bytesDone: 10n });
    updating.report({ ...about, phase: UpdatePhase.ROLLED_BACK, reason: UpdateFailureReason.NOT_HEALTHY });
    await updating.settle();
    expect((await historyOf(updating)).map((entry) => UpdatePhase[entry.phase])).toEqual([
      "HEALTHY",
      "REBOOTING",
      "INSTALLING",
      "DOWNLOADING",
      "PENDING",
    ]);
    const [state] = (await updates().listRolloutScreens({ rolloutId, phases: [UpdatePhase.HEALTHY] })).screens.filter(
      (s) => s.screenId === updating.id,
    );
    expect(state).toMatchObject({ phase: UpdatePhase.HEALTHY, bytesDone: 0n, bytesTotal: 4096n });
    await eventually(async () => (await rolloutOf(rolloutId)).state === RolloutState.COMPLETED);
  });

  it("survives a control-plane restart mid-rollout: the state is in PostgreSQL and is re-evaluated at start", async () => {
    const stored = await release("2026.12.6");
    const { groupId, screens } = await screensOf("restart", 5);
    const { rollout } = await updates().createRollout({
      releaseId: stored.id,
      targets: [{ kind: { case: "groupId", value: groupId } }],
      wavePercents: [20, 60, 100],
    });
    const rolloutId = rollout?.id ?? "";
    expect(rollout?.waves.map((wave) => wave.screenCount)).toEqual([1, 2, 2]);
    await eventually(() => offered(screens, "2026.12.6").length === 1);
    const [first] = offered(screens, "2026.12.6") as [SimulatedUpdateScreen];
    const about = { rolloutId, version: "2026.12.6", bytesTotal: stored.sizeBytes };
    first.report({ ...about, phase: UpdatePhase.INSTALLING });
    first.report({ ...about, phase: UpdatePhase.REBOOTING });
    await first.settle();

    // The control plane stops while the screen reboots; a new process starts on the same
    // database, the screens reconnect, and the rebooted one reports HEALTHY to the new process.
    await Promise.all(screens.map((screen) => screen.disconnect()));
    await app.stop();
    await app.start();
    await Promise.all(screens.filter((screen) => screen !== first).map((screen) => screen.connect()));
    first.imageVersion = "2026.12.6";
    first.bootedSlot = "B";
    await first.connect();
    first.report({ ...about, phase: UpdatePhase.HEALTHY });
    await first.settle();
    await eventually(() => offered(screens, "2026.12.6").length === 3, 10_000);
    expect((await rolloutOf(rolloutId)).currentWave).toBe(1);

    // A crash right after a report was stored, before it was evaluated: simulated by stopping the
    // control plane and storing the wave's end phases as the reports' transactions would have.
    const wave1 = offered(screens, "2026.12.6").filter((screen) => screen !== first);
    await Promise.all(screens.map((screen) => screen.disconnect()));
    await app.stop();
    await app.query(
      "update update_rollout_screens set phase = $3 where rollout_id = $1 and screen_id = any($2::uuid[])",
      [rolloutId, wave1.map((screen) => screen.id), UpdatePhase.HEALTHY],
    );
    await app.start();
    // Nothing reported since: the new process's recovery finishes wave 1 and offers wave 2 to
    // its screens, which find it in their desired state when they reconnect.
    await Promise.all(screens.map((screen) => screen.connect()));
    await eventually(() => offered(screens, "2026.12.6").length === 5, 10_000);
    expect((await rolloutOf(rolloutId)).currentWave).toBe(2);
    await updates().abortRollout({ rolloutId });
  });

  it("answers another tenant's ids exactly like unknown ones (NOT_FOUND naming them)", async () => {
    const stored = await release("2026.12.7");
    const { groupId, screens } = await screensOf("tenancy", 1);
    const { rollout } = await updates().createRollout({
      releaseId: stored.id,
      targets: [{ kind: { case: "groupId", value: groupId } }],
    });
    const rolloutId = rollout?.id ?? "";
    const screenId = screens[0]?.id ?? "";
    const outsider = updates(other.tokens.admin);
    const calls: Array<[string, () => Promise<unknown>]> = [
      [`no rollout ${rolloutId} in your tenant`, () => outsider.getRollout({ rolloutId })],
      [`no rollout ${rolloutId} in your tenant`, () => outsider.pauseRollout({ rolloutId })],
      [`no rollout ${rolloutId} in your tenant`, () => outsider.resumeRollout({ rolloutId })],
      [`no rollout ${rolloutId} in your tenant`, () => outsider.abortRollout({ rolloutId })],
      [`no rollout ${rolloutId} in your tenant`, () => outsider.listRolloutScreens({ rolloutId })],
      [`no screen ${screenId} in your tenant`, () => outsider.listScreenUpdates({ screenId })],
      [`no release ${stored.id} in your tenant`, () => outsider.createRollout({ releaseId: stored.id })],
    ];
    for (const [message, call] of calls)
      await expect(call()).rejects.toMatchObject({ code: Code.NotFound, rawMessage: message });
    const theirs = await release("2026.12.7", other);
    const unknown = "0b7d3c52-9a11-4e3f-8d2a-5f6e7a8b9c0d";
    const foreignTargets: Array<[{ case: "screenId" | "groupId"; value: string }, string]> = [
      [{ case: "screenId", value: screenId }, `no screen ${screenId} in your tenant`],
      [{ case: "groupId", value: groupId }, `no group ${groupId} in your tenant`],
      [{ case: "screenId", value: unknown }, `no screen ${unknown} in your tenant`],
      [{ case: "groupId", value: "not-an-id" }, "no group not-an-id in your tenant"],
    ];
    for (const [target, message] of foreignTargets) {
      await expect(outsider.createRollout({ releaseId: theirs.id, targets: [{ kind: target }] })).rejects.toMatchObject(
        {
          code: Code.NotFound,
          rawMessage: message,
        },
      );
    }
    await updates().abortRollout({ rolloutId });
  });

  it("lets viewers read and only admins change rollouts, auditing the changes", async () => {
    const stored = await release("2026.12.8");
    const { groupId } = await screensOf("roles", 2);
    const targets = [{ kind: { case: "groupId" as const, value: groupId } }];
    for (const token of [tenant.tokens.viewer, tenant.tokens.editor]) {
      await expect(updates(token).createRollout({ releaseId: stored.id, targets })).rejects.toMatchObject({
        code: Code.PermissionDenied,
      });
    }
    const { rollout } = await updates().createRollout({ releaseId: stored.id, targets, wavePercents: [50, 100] });
    const rolloutId = rollout?.id ?? "";
    expect((await updates(tenant.tokens.viewer).getRollout({ rolloutId })).rollout?.id).toBe(rolloutId);
    expect((await updates(tenant.tokens.viewer).listRollouts({})).rollouts.map((r) => r.id)).toContain(rolloutId);
    for (const token of [tenant.tokens.viewer, tenant.tokens.editor]) {
      await expect(updates(token).pauseRollout({ rolloutId })).rejects.toMatchObject({ code: Code.PermissionDenied });
      await expect(updates(token).abortRollout({ rolloutId })).rejects.toMatchObject({ code: Code.PermissionDenied });
    }
    const { rollout: paused } = await updates().pauseRollout({ rolloutId });
    expect(paused).toMatchObject({ state: RolloutState.PAUSED, pauseReason: PauseReason.MANUAL });
    await updates().abortRollout({ rolloutId });
    const audited = await app.query<{ action: string; result: string; subject_id: string; after: unknown }>(
      `select action, result, subject_id, after from audit_events
        where tenant_id = $1 and action like 'avtech.update.v1.UpdateService/%Rollout' order by at`,
      [tenant.id],
    );
    const mine = audited.filter((row) => row.subject_id === rolloutId);
    expect(mine.map((row) => [row.action.split("/")[1], row.result])).toEqual([
      ["CreateRollout", "ok"],
      ["PauseRollout", "ok"],
      ["AbortRollout", "ok"],
    ]);
    // Refusals are recorded before the handler learns the subject (only this test is refused here).
    const refused = audited.filter((row) => row.result === "permission_denied").map((row) => row.action.split("/")[1]);
    expect(refused.sort()).toEqual([
      "AbortRollout",
      "AbortRollout",
      "CreateRollout",
      "CreateRollout",
      "PauseRollout",
      "PauseRollout",
    ]);
    expect(mine.at(-1)?.after).toMatchObject({ state: "ABORTED", version: "2026.12.8" });
  });

  it("refuses wave shares, thresholds and targets that make no rollout, saying what to fix", async () => {
    const stored = await release("2026.12.9");
    const cases: Array<[Parameters<ReturnType<typeof updates>["createRollout"]>[0], Code, RegExp]> = [
      [{ releaseId: stored.id, wavePercents: [10, 10, 100] }, Code.InvalidArgument, /strictly increase/],
      [{ releaseId: stored.id, wavePercents: [10, 50] }, Code.InvalidArgument, /end at 100/],
      [{ releaseId: stored.id, maxFailurePercent: 101 }, Code.InvalidArgument, /max_failure_percent must be 0\.\.100/],
      [
        { releaseId: stored.id, targets: [{ kind: { case: "tag", value: "nobody-has-this" } }] },
        Code.FailedPrecondition,
        /select no screen/,
      ],
      [{ releaseId: stored.id, targets: [{ kind: { case: undefined } }] }, Code.InvalidArgument, /a target must set/],
    ];
    for (const [request, code, message] of cases) {
      await expect(updates().createRollout(request)).rejects.toMatchObject({
        code,
        rawMessage: expect.stringMatching(message),
      });
    }
  });

  it("is not held up by a screen deleted during the rollout", async () => {
    const stored = await release("2026.12.11");
    const { groupId, screens } = await screensOf("deleted", 2);
    const [kept, deleted] = screens as [SimulatedUpdateScreen, SimulatedUpdateScreen];
    const { rollout } = await updates().createRollout({
      releaseId: stored.id,
      targets: [{ kind: { case: "groupId", value: groupId } }],
      wavePercents: [100],
    });
    const rolloutId = rollout?.id ?? "";
    await eventually(() => offered(screens, "2026.12.11").length === 2);
    await app.client(FleetService, tenant.tokens.admin).deleteScreen({ id: deleted.id });
    await kept.install("healthy");
    await eventually(async () => (await rolloutOf(rolloutId)).state === RolloutState.COMPLETED);
    expect((await rolloutOf(rolloutId)).waves[0]).toMatchObject({ screenCount: 2, counts: { healthy: 1, pending: 0 } });
  });

  it("ends a stream whose update report names no phase, with INVALID_ARGUMENT saying so", async () => {
    const { screens } = await screensOf("malformed", 1);
    const [screen] = screens as [SimulatedUpdateScreen];
    screen.report({ rolloutId: "6d1c5a7e-2f0b-4c1e-9a55-3f3b8c1d2e4f", version: "1", phase: UpdatePhase.UNSPECIFIED });
    await eventually(() => screen.streamError !== undefined);
    expect(screen.streamError).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "update_report.phase must be an UpdatePhase other than UNSPECIFIED, got 0",
    });
    await screen.connect();
  });

  it("serves a bundle to the screens of its rollout only, with Range", async () => {
    const stored = await release("2026.12.10");
    const { screens } = await screensOf("bundle", 2);
    const { rollout } = await updates().createRollout({
      releaseId: stored.id,
      targets: [{ kind: { case: "screenId", value: screens[0]?.id ?? "" } }],
    });
    await eventually(() => screens[0]?.osUpdate?.version === "2026.12.10");
    const url = `${app.addresses.http1Url}${screens[0]?.osUpdate?.bundle?.url}`;
    const whole = await screens[0]?.fetchBundle(url);
    expect(whole?.status).toBe(200);
    expect(Number(whole?.headers.get("content-length"))).toBe(Number(stored.sizeBytes));
    const part = await screens[0]?.fetchBundle(url, "bytes=10-19");
    expect(part?.status).toBe(206);
    expect(part?.headers.get("content-range")).toBe(`bytes 10-19/${stored.sizeBytes}`);
    expect((await part?.arrayBuffer())?.byteLength).toBe(10);
    // A screen that is in no rollout of this release, and a request without a device token.
    expect((await screens[1]?.fetchBundle(url))?.status).toBe(404);
    expect((await fetch(url)).status).toBe(401);
    await updates().abortRollout({ rolloutId: rollout?.id ?? "" });
  });
});
