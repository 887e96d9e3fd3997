import { randomUUID } from "node:crypto";
import { RebootPolicy, UpdatePhase } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import {
  PauseReason,
  type Release,
  ReleaseSchema,
  type Rollout,
  RolloutSchema,
  RolloutState,
  type ScreenUpdate,
  ScreenUpdateSchema,
  type UpdateService,
} from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { type ScreenFacts, type TargetSelector, targetSelects } from "../../core/desired-state/index.ts";
import { noteAudit } from "../../platform/audit/index.ts";
import type { Clock } from "../../platform/clock.ts";
import { isUuid } from "../../platform/validation.ts";
import { type PrincipalOf, readers, requireRole, targetFromProto } from "../fleet/access.ts";
import type { FleetStores, Principal } from "../fleet/ports.ts";
import { requireTargetsInTenant } from "../publish/index.ts";
import type { RolloutEngine } from "./engine.ts";
import {
  defaultMaxFailurePercent,
  defaultWavePercents,
  isReportablePhase,
  planWaves,
  type WaveSnapshot,
  wavePercentsProblem,
} from "./plan.ts";
import type {
  NewRolloutScreen,
  ReleaseRecord,
  RolloutRecord,
  RolloutScreenCursor,
  RolloutView,
  ScreenUpdateRecord,
  TimeCursor,
  UpdateStore,
} from "./ports.ts";
import { ingestRelease, type ReleaseIngestDeps } from "./release-ingest.ts";

/** Only admins change releases and rollouts (UpdateService's contract); every role may look. */
export const updateWriters: Principal["role"][] = ["admin"];
/** How many entries ListScreenUpdates returns at most (a screen's whole history in practice). */
const historyLimit = 500;

/** What {@link createUpdateService} uses, and nothing more. */
export interface UpdateServiceDeps {
  store: UpdateStore;
  engine: Pick<RolloutEngine, "evaluate" | "command" | "flush">;
  /** The upload pipeline (blob store, rauc, limits). */
  ingest: Omit<ReleaseIngestDeps, "store" | "clock">;
  /** Target resolution reads the tenant's screens and groups as Publish does. */
  stores: Pick<FleetStores, "publishSources" | "groups" | "screens" | "statuses">;
  /** Removes a deleted release's bundle from the blob store. */
  deleteBlob(sha256: string): Promise<void>;
  clock: Clock;
  logger: Logger;
  principalOf: PrincipalOf;
}

/**
 * UpdateService: releases (upload checked by rauc, list, get, delete) and rollouts (create in
 * waves, read, pause, resume, abort, their screens and a screen's history). The caller's tenant
 * comes from `principalOf`; another tenant's id is NOT_FOUND. Writes need the admin role and are
 * audited with their subject.
 */
export function createUpdateService(deps: UpdateServiceDeps): ServiceImpl<typeof UpdateService> {
  const { store, principalOf } = deps;
  const admin = (context: HandlerContext) => requireRole(principalOf, context, updateWriters);
  const reader = (context: HandlerContext) => requireRole(principalOf, context, readers);

  const releaseOf = async (principal: Principal, id: string) => {
    const release = await store.getRelease(principal.tenantId, id);
    if (!release) throw new ConnectError(`no release ${id} in your tenant`, Code.NotFound);
    return release;
  };
  const rolloutOf = async (principal: Principal, id: string) => {
    const rollout = await store.getRollout(principal.tenantId, id);
    if (!rollout) throw new ConnectError(`no rollout ${id} in your tenant`, Code.NotFound);
    return rollout;
  };
  const change = async (
    context: HandlerContext,
    rolloutId: string,
    command: "pause" | "resume" | "abort",
  ): Promise<{ rollout: Rollout }> => {
    const principal = admin(context);
    noteAudit(context, { subjectType: "rollout", subjectId: rolloutId });
    const before = await rolloutOf(principal, rolloutId);
    noteAudit(context, { before: rolloutSnapshot(before) });
    await deps.engine.command(rolloutId, command);
    const after = await rolloutOf(principal, rolloutId);
    noteAudit(context, { after: rolloutSnapshot(after) });
    deps.logger.info(
      { tenantId: principal.tenantId, actorId: principal.actorId, rolloutId, state: RolloutState[after.rollout.state] },
      `rollout ${command}`,
    );
    return { rollout: rolloutToProto(after) };
  };

  return {
    async uploadRelease(requests, context) {
      const principal = admin(context);
      noteAudit(context, { subjectType: "release" });
      const release = await ingestRelease(
        { ...deps.ingest, store, clock: deps.clock },
        { tenantId: principal.tenantId, actorId: principal.actorId },
        requests,
      );
      noteAudit(context, { subjectId: release.id, after: releaseSnapshot(release) });
      deps.logger.info(
        { tenantId: principal.tenantId, actorId: principal.actorId, releaseId: release.id, version: release.version },
        "release uploaded",
      );
      return { release: releaseToProto(release) };
    },

    async listReleases(request, context) {
      const principal = reader(context);
      const { releases, more } = await store.listReleases(principal.tenantId, {
        after: decodeTimeCursor(request.pageToken),
        limit: pageSize(request.pageSize),
      });
      const last = releases.at(-1);
      return {
        releases: releases.map(releaseToProto),
        nextPageToken: more && last ? encodeTimeCursor({ at: last.uploadedAt, id: last.id }) : "",
      };
    },

    async getRelease(request, context) {
      const principal = reader(context);
      return { release: releaseToProto(await releaseOf(principal, request.releaseId)) };
    },

    async deleteRelease(request, context) {
      const principal = admin(context);
      noteAudit(context, { subjectType: "release", subjectId: request.releaseId });
      const outcome = await store.deleteRelease(principal.tenantId, request.releaseId, deps.clock.now());
      if (outcome === "not-found") {
        throw new ConnectError(`no release ${request.releaseId} in your tenant`, Code.NotFound);
      }
      if ("inUseBy" in outcome) {
        throw new ConnectError(
          `release ${request.releaseId} is used by rollout ${outcome.inUseBy}, which is not finished; abort it or let it complete first`,
          Code.FailedPrecondition,
        );
      }
      const { deleted } = outcome;
      noteAudit(context, { before: releaseSnapshot(deleted) });
      await store.removeBlobIfUnused(deleted.sha256, () => deps.deleteBlob(deleted.sha256));
      // Screens of its finished rollouts are no longer offered it.
      await deps.engine.flush();
      return {};
    },

    async createRollout(request, context) {
      const principal = admin(context);
      const rolloutId = randomUUID();
      noteAudit(context, { subjectType: "rollout", subjectId: rolloutId });
      const percents = request.wavePercents.length > 0 ? request.wavePercents : defaultWavePercents;
      const percentsProblem = wavePercentsProblem(percents);
      if (percentsProblem) throw new ConnectError(percentsProblem, Code.InvalidArgument);
      const maxFailurePercent = request.maxFailurePercent ?? defaultMaxFailurePercent;
      if (maxFailurePercent > 100) {
        throw new ConnectError(`max_failure_percent must be 0..100, got ${maxFailurePercent}`, Code.InvalidArgument);
      }
      if (!(request.rebootPolicy in RebootPolicy)) {
        throw new ConnectError(`reboot_policy ${request.rebootPolicy} is not a RebootPolicy`, Code.InvalidArgument);
      }
      const targets = request.targets.map(targetFromProto);
      const release = await releaseOf(principal, request.releaseId);
      const screens = await resolveTargets(deps.stores, principal.tenantId, targets);
      if (screens.length === 0) {
        throw new ConnectError(
          "the targets select no screen; pick screens, groups or tags that have screens",
          Code.FailedPrecondition,
        );
      }
      const statuses = await deps.stores.statuses.getMany(screens.map((screen) => screen.id));
      const runsRelease = (screen: ScreenFacts) => statuses.get(screen.id)?.imageVersion === release.version;
      const online = (screen: ScreenFacts) => statuses.get(screen.id)?.streamOpen === true;
      // Screens that need the update come first, connected ones first among them (so the first
      // wave has screens that can start at once); screens already on the release fill the end.
      const ordered = [...screens].sort(
        (a, b) =>
          Number(runsRelease(a)) - Number(runsRelease(b)) ||
          Number(online(b)) - Number(online(a)) ||
          compareCodePoints(a.name, b.name) ||
          compareCodePoints(a.id, b.id),
      );
      const waves = planWaves(ordered.length, percents);
      const entries: NewRolloutScreen[] = [];
      waves.forEach((wave, index) => {
        for (const screen of ordered.slice(entries.length, entries.length + wave.screenCount)) {
          const already = runsRelease(screen);
          entries.push({
            screenId: screen.id,
            wave: index,
            phase: already ? UpdatePhase.HEALTHY : UpdatePhase.PENDING,
            message: already ? `already runs ${release.version}` : "",
          });
        }
      });
      const now = deps.clock.now();
      const record: RolloutRecord = {
        id: rolloutId,
        tenantId: principal.tenantId,
        releaseId: release.id,
        state: RolloutState.RUNNING,
        pauseReason: PauseReason.UNSPECIFIED,
        maxFailurePercent,
        rebootPolicy: request.rebootPolicy === RebootPolicy.UNSPECIFIED ? RebootPolicy.QUIET : request.rebootPolicy,
        currentWave: 0,
        createdAt: now,
        createdBy: principal.actorId,
        updatedAt: now,
      };
      const created = await store.createRollout(record, waves, entries);
      if (created === "release-gone") {
        throw new ConnectError(`no release ${release.id} in your tenant (it was just deleted)`, Code.NotFound);
      }
      if (created !== "created") {
        throw new ConnectError(
          `screen ${created.busyScreenId} is already in rollout ${created.busyRolloutId}, which is not finished; abort that rollout or leave the screen out`,
          Code.FailedPrecondition,
        );
      }
      await deps.engine.evaluate(rolloutId);
      const view = await rolloutOf(principal, rolloutId);
      noteAudit(context, { after: { ...rolloutSnapshot(view), screens: entries.length } });
      deps.logger.info(
        {
          tenantId: principal.tenantId,
          actorId: principal.actorId,
          rolloutId,
          version: release.version,
          screens: entries.length,
        },
        "rollout created",
      );
      return { rollout: rolloutToProto(view) };
    },

    async getRollout(request, context) {
      const principal = reader(context);
      return { rollout: rolloutToProto(await rolloutOf(principal, request.rolloutId)) };
    },

    async listRollouts(request, context) {
      const principal = reader(context);
      const { rollouts, more } = await store.listRollouts(principal.tenantId, {
        after: decodeTimeCursor(request.pageToken),
        limit: pageSize(request.pageSize),
      });
      const last = rollouts.at(-1)?.rollout;
      return {
        rollouts: rollouts.map(rolloutToProto),
        nextPageToken: more && last ? encodeTimeCursor({ at: last.createdAt, id: last.id }) : "",
      };
    },

    pauseRollout: (request, context) => change(context, request.rolloutId, "pause"),
    resumeRollout: (request, context) => change(context, request.rolloutId, "resume"),
    abortRollout: (request, context) => change(context, request.rolloutId, "abort"),

    async listRolloutScreens(request, context) {
      const principal = reader(context);
      await rolloutOf(principal, request.rolloutId);
      for (const phase of request.phases) {
        if (!isReportablePhase(phase)) {
          throw new ConnectError(`phases must name update phases (1..7), got ${phase}`, Code.InvalidArgument);
        }
      }
      const { screens, more } = await store.listRolloutScreens(principal.tenantId, request.rolloutId, {
        phases: request.phases,
        after: decodeScreenCursor(request.pageToken),
        limit: pageSize(request.pageSize),
      });
      const last = screens.at(-1);
      return {
        screens: screens.map(screenUpdateToProto),
        nextPageToken: more && last ? encodeScreenCursor(last) : "",
      };
    },

    async listScreenUpdates(request, context) {
      const principal = reader(context);
      if (!(await deps.stores.screens.get(principal.tenantId, request.screenId))) {
        throw new ConnectError(`no screen ${request.screenId} in your tenant`, Code.NotFound);
      }
      const updates = await store.listScreenUpdates(principal.tenantId, request.screenId, historyLimit);
      return { updates: updates.map(screenUpdateToProto) };
    },
  };
}

/**
 * The tenant's screens `targets` select, as Publish selects them (`targetSelects` over the
 * publish sources' screens; no target = the whole tenant), after checking that every screen
 * and group a target names is the tenant's (Publish's check: NOT_FOUND names the first that is not).
 */
async function resolveTargets(
  stores: Pick<FleetStores, "publishSources" | "groups" | "screens">,
  tenantId: string,
  targets: readonly TargetSelector[],
): Promise<ScreenFacts[]> {
  await requireTargetsInTenant(stores, tenantId, targets);
  const sources = await stores.publishSources.forTenant(tenantId);
  return sources.screens.filter(
    (screen) => targets.length === 0 || targets.some((target) => targetSelects(target, screen)),
  );
}

function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function pageSize(requested: number): number {
  return Math.min(Math.max(requested || 100, 1), 1000);
}

function badToken(): ConnectError {
  return new ConnectError("page_token is not one this server returned", Code.InvalidArgument);
}

function encodeTimeCursor(cursor: TimeCursor): string {
  return Buffer.from(JSON.stringify([cursor.at.toISOString(), cursor.id])).toString("base64url");
}

function decodeTimeCursor(token: string): TimeCursor | undefined {
  if (token === "") return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2) {
      const [at, id] = value;
      const date = typeof at === "string" ? new Date(at) : undefined;
      if (date && !Number.isNaN(date.getTime()) && typeof id === "string" && isUuid(id)) return { at: date, id };
    }
  } catch {
    // Falls through to the refusal.
  }
  throw badToken();
}

function encodeScreenCursor(last: ScreenUpdateRecord): string {
  return Buffer.from(JSON.stringify([last.wave, last.screenName, last.screenId])).toString("base64url");
}

function decodeScreenCursor(token: string): RolloutScreenCursor | undefined {
  if (token === "") return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 3) {
      const [wave, name, id] = value;
      if (Number.isInteger(wave) && typeof name === "string" && typeof id === "string" && isUuid(id)) {
        return { wave: wave as number, name, id };
      }
    }
  } catch {
    // Falls through to the refusal.
  }
  throw badToken();
}

/** A release on the wire. */
export function releaseToProto(release: ReleaseRecord): Release {
  return create(ReleaseSchema, {
    id: release.id,
    version: release.version,
    compatible: release.compatible,
    sha256: release.sha256,
    sizeBytes: release.sizeBytes,
    signer: release.signer,
    notes: release.notes,
    uploadedAt: timestampFromDate(release.uploadedAt),
    uploadedBy: release.uploadedBy,
  });
}

function waveToProto(wave: WaveSnapshot) {
  const { counts } = wave;
  return {
    percent: wave.percent,
    screenCount: wave.screenCount,
    counts: {
      pending: counts.pending,
      downloading: counts.downloading,
      installing: counts.installing,
      rebooting: counts.rebooting,
      healthy: counts.healthy,
      failed: counts.failed,
      rolledBack: counts.rolledBack,
    },
    startedAt: wave.startedAt ? timestampFromDate(wave.startedAt) : undefined,
    finishedAt: wave.finishedAt ? timestampFromDate(wave.finishedAt) : undefined,
  };
}

/** A rollout with its waves on the wire. */
export function rolloutToProto(view: RolloutView): Rollout {
  const { rollout } = view;
  return create(RolloutSchema, {
    id: rollout.id,
    release: releaseToProto(view.release),
    state: rollout.state,
    pauseReason: rollout.pauseReason,
    maxFailurePercent: rollout.maxFailurePercent,
    rebootPolicy: rollout.rebootPolicy,
    currentWave: rollout.currentWave,
    waves: view.waves.map(waveToProto),
    createdAt: timestampFromDate(rollout.createdAt),
    createdBy: rollout.createdBy,
    updatedAt: timestampFromDate(rollout.updatedAt),
  });
}

/** A screen's update state on the wire. */
export function screenUpdateToProto(update: ScreenUpdateRecord): ScreenUpdate {
  return create(ScreenUpdateSchema, {
    rolloutId: update.rolloutId,
    screenId: update.screenId,
    screenName: update.screenName,
    version: update.version,
    wave: update.wave,
    phase: update.phase,
    bytesDone: update.bytesDone,
    bytesTotal: update.bytesTotal,
    reason: update.reason,
    message: update.message,
    updatedAt: timestampFromDate(update.updatedAt),
  });
}

/** What the audit log keeps of a release. */
function releaseSnapshot(release: ReleaseRecord) {
  return {
    version: release.version,
    compatible: release.compatible,
    sha256: release.sha256,
    sizeBytes: release.sizeBytes.toString(),
    signer: release.signer,
  };
}

/** What the audit log keeps of a rollout. */
function rolloutSnapshot(view: RolloutView) {
  return {
    releaseId: view.release.id,
    version: view.release.version,
    state: RolloutState[view.rollout.state],
    pauseReason: PauseReason[view.rollout.pauseReason],
    currentWave: view.rollout.currentWave,
    waves: view.waves.map((wave) => wave.screenCount),
  };
}
