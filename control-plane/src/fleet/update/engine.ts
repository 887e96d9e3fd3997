import { UpdatePhase, type UpdateReport } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { TargetSelector } from "../../core/desired-state/index.ts";
import type { Clock } from "../../platform/clock.ts";
import {
  applyHello,
  applyReport,
  commandStep,
  isEndPhase,
  nextStep,
  type RolloutCommand,
  type RolloutSnapshot,
  type ScreenOutcome,
} from "./plan.ts";
import type { OutboxEntry, UpdateStore } from "./ports.ts";

/** Screens whose desired state one flush round publishes at most. */
const publishBatch = 5000;

/** What the {@link RolloutEngine} uses. */
export interface RolloutEngineDeps {
  store: UpdateStore;
  /** The publish path (src/fleet/publish): a new desired-state version where the document changed, pushed. */
  publisher: { publish(tenantId: string, targets: readonly TargetSelector[], dryRun: boolean): Promise<unknown> };
  clock: Clock;
  logger: Logger;
}

/** The screen a report or Hello comes from, as its stream knows it. */
export interface ReportingScreen {
  screenId: string;
  tenantId: string;
  /** `Hello.image_version` of the stream the message came on. */
  helloImageVersion: string;
}

/**
 * Drives rollouts. Its decisions are the pure functions of plan.ts; its state is in PostgreSQL
 * (the {@link UpdateStore}), so any process can take over and a restart loses nothing:
 *
 * - each report or Hello is applied to the screen's row under its row lock; a screen reaching an
 *   end phase re-evaluates its rollout under the rollout's row lock (advance, pause, complete);
 * - every change of which screens are offered the release is written, in the same transaction,
 *   to an outbox of screens to publish; {@link flush} publishes them through the publish path and
 *   then forgets them, so a crash in between is repaired by the next {@link recover};
 * - {@link recover} (at start, then periodically) re-evaluates every unfinished rollout and
 *   flushes the outbox.
 *
 * INVARIANTS: flushes are serialised in this process (a flush asked for during one runs after
 * it); everything else may run concurrently, in this and other processes, because each decision
 * is made on locked rows.
 */
export class RolloutEngine {
  readonly #deps: RolloutEngineDeps;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  constructor(deps: RolloutEngineDeps) {
    this.#deps = deps;
  }

  /** Applies every step the rollout takes by itself now, then publishes what changed. */
  async evaluate(rolloutId: string): Promise<RolloutSnapshot | undefined> {
    const snapshot = await this.#deps.store.stepRollout(rolloutId, nextStep, this.#deps.clock.now());
    await this.flush();
    return snapshot;
  }

  /**
   * A fleet manager's pause, resume or abort, then whatever the rollout does next by itself;
   * FAILED_PRECONDITION on a finished rollout. Undefined when there is no such rollout.
   */
  async command(rolloutId: string, command: RolloutCommand): Promise<RolloutSnapshot | undefined> {
    let first = true;
    const snapshot = await this.#deps.store.stepRollout(
      rolloutId,
      (rollout) => {
        if (!first) return nextStep(rollout);
        first = false;
        const decision = commandStep(rollout, command);
        if ("refused" in decision) throw new ConnectError(decision.refused, Code.FailedPrecondition);
        return decision.step ?? nextStep(rollout);
      },
      this.#deps.clock.now(),
    );
    await this.flush();
    return snapshot;
  }

  /**
   * Applies a screen's UpdateReport (see applyReport for duplicates, order and the HEALTHY rule).
   * A report about a rollout the screen is not in changes nothing. Publishing what the report
   * changed (the next wave) is started, not awaited: the screen's stream goes on meanwhile.
   */
  async report(screen: ReportingScreen, report: UpdateReport): Promise<ScreenOutcome | undefined> {
    const applied = await this.#deps.store.updateScreen(
      report.rolloutId,
      screen.screenId,
      (current, releaseVersion) =>
        applyReport(current, report, { releaseVersion, helloImageVersion: screen.helloImageVersion }),
      this.#deps.clock.now(),
    );
    const log = { screenId: screen.screenId, rolloutId: report.rolloutId, phase: UpdatePhase[report.phase] };
    if (!applied) {
      this.#deps.logger.info(log, "update report for a rollout the screen is not in: ignored");
      return undefined;
    }
    const { outcome } = applied;
    if (outcome.kind === "ignored") this.#deps.logger.info({ ...log, why: outcome.why }, "update report ignored");
    else if (outcome.kind === "phase") this.#deps.logger.info(log, "screen update phase");
    await this.#afterScreenChange(report.rolloutId, outcome);
    return outcome;
  }

  /** A screen said hello running `imageVersion`: it is HEALTHY at once in rollouts of that version it waits in. */
  async hello(screen: Omit<ReportingScreen, "tenantId">): Promise<void> {
    if (screen.helloImageVersion === "") return;
    for (const rolloutId of await this.#deps.store.pendingRolloutsOf(screen.screenId)) {
      const applied = await this.#deps.store.updateScreen(
        rolloutId,
        screen.screenId,
        (current, releaseVersion) => applyHello(current, screen.helloImageVersion, releaseVersion),
        this.#deps.clock.now(),
      );
      if (applied) await this.#afterScreenChange(rolloutId, applied.outcome);
    }
  }

  async #afterScreenChange(rolloutId: string, outcome: ScreenOutcome): Promise<void> {
    if (outcome.kind !== "phase") return;
    // Only end phases move a rollout (finish a wave, pass the threshold); FAILED and ROLLED_BACK
    // also withdrew the screen's offer, which the flush publishes.
    if (isEndPhase(outcome.next.phase)) {
      await this.#deps.store.stepRollout(rolloutId, nextStep, this.#deps.clock.now());
      this.#flushInBackground();
    }
  }

  #flushInBackground(): void {
    this.flush().catch((error: unknown) =>
      this.#deps.logger.error({ err: error }, "publishing OS update offers failed; retried by the next recovery"),
    );
  }

  /**
   * Publishes the desired state of every screen in the outbox (a screen whose offer changed),
   * tenant by tenant, then forgets those entries. Resolves after a flush that started after
   * this call.
   */
  flush(): Promise<void> {
    if (!this.#running) {
      const run = this.#flushOutbox().finally(() => {
        this.#running = undefined;
      });
      this.#running = run;
      return run;
    }
    this.#queued ??= this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.flush();
      });
    return this.#queued;
  }

  async #flushOutbox(): Promise<void> {
    for (;;) {
      const entries = await this.#deps.store.pendingPublishes(publishBatch);
      if (entries.length === 0) return;
      const byTenant = new Map<string, OutboxEntry[]>();
      for (const entry of entries) byTenant.set(entry.tenantId, [...(byTenant.get(entry.tenantId) ?? []), entry]);
      for (const [tenantId, tenantEntries] of byTenant) {
        const targets = tenantEntries.map((entry): TargetSelector => ({ kind: "screen", screenId: entry.screenId }));
        await this.#deps.publisher.publish(tenantId, targets, false);
        await this.#deps.store.published(tenantEntries);
      }
      if (entries.length < publishBatch) return;
    }
  }

  /** Re-evaluates every unfinished rollout and publishes whatever is pending (start, and periodically). */
  async recover(): Promise<void> {
    for (const rolloutId of await this.#deps.store.unfinishedRolloutIds()) {
      await this.#deps.store.stepRollout(rolloutId, nextStep, this.#deps.clock.now());
    }
    await this.flush();
  }

  /**
   * Runs {@link recover} now and every `everyMs` (default 30 s) until the returned function is
   * called; failures are logged and retried on the next round.
   */
  start(options: { everyMs?: number } = {}): () => void {
    const round = () =>
      this.recover().catch((error: unknown) => this.#deps.logger.error({ err: error }, "rollout recovery failed"));
    void round();
    const timer = setInterval(round, options.everyMs ?? 30_000);
    timer.unref();
    return () => clearInterval(timer);
  }
}
