import { type OsUpdate, OsUpdateSchema, UpdatePhase } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { PauseReason, RolloutState } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import type pg from "pg";
import { inTransaction, isUniqueViolation, isUuid } from "../pg/sql.ts";
import { bundleUrl } from "./bundle-url.ts";
import {
  addToTally,
  emptyTally,
  type PlannedWave,
  type RolloutSnapshot,
  type RolloutStep,
  type ScreenOutcome,
  type ScreenUpdateState,
  type WaveSnapshot,
} from "./plan.ts";
import type {
  NewRolloutScreen,
  OutboxEntry,
  ReleaseRecord,
  RolloutRecord,
  RolloutScreenCursor,
  RolloutView,
  ScreenUpdateRecord,
  TimeCursor,
  UpdateStore,
} from "./ports.ts";

/** Steps applied per transaction at most: a rollout has at most 100 waves and each takes 3 steps. */
const maxStepsPerTransaction = 400;
const unfinished = [RolloutState.RUNNING, RolloutState.PAUSED];
const failedPhases = [UpdatePhase.FAILED, UpdatePhase.ROLLED_BACK];

interface ReleaseRow {
  id: string;
  tenant_id: string;
  version: string;
  compatible: string;
  sha256: string;
  size_bytes: string;
  signer: string;
  notes: string;
  uploaded_at: Date;
  uploaded_by: string;
}

interface RolloutRow {
  id: string;
  tenant_id: string;
  release_id: string;
  state: number;
  pause_reason: number;
  max_failure_percent: number;
  reboot_policy: number;
  current_wave: number;
  created_at: Date;
  created_by: string;
  updated_at: Date;
}

interface WaveRow {
  rollout_id: string;
  wave: number;
  percent: number;
  screen_count: number;
  failures_accepted: number;
  started_at: Date | null;
  finished_at: Date | null;
}

interface ScreenRow {
  rollout_id: string;
  screen_id: string;
  screen_name: string;
  version: string;
  wave: number;
  phase: number;
  bytes_done: string;
  bytes_total: string;
  reason: number;
  message: string;
  updated_at: Date;
}

const releaseColumns =
  "id, tenant_id, version, compatible, sha256, size_bytes, signer, notes, uploaded_at, uploaded_by";
const rolloutColumns =
  "id, tenant_id, release_id, state, pause_reason, max_failure_percent, reboot_policy, current_wave, created_at, created_by, updated_at";

function toRelease(row: ReleaseRow): ReleaseRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    version: row.version,
    compatible: row.compatible,
    sha256: row.sha256,
    sizeBytes: BigInt(row.size_bytes),
    signer: row.signer,
    notes: row.notes,
    uploadedAt: row.uploaded_at,
    uploadedBy: row.uploaded_by,
  };
}

function toRollout(row: RolloutRow): RolloutRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    releaseId: row.release_id,
    state: row.state,
    pauseReason: row.pause_reason,
    maxFailurePercent: row.max_failure_percent,
    rebootPolicy: row.reboot_policy,
    currentWave: row.current_wave,
    createdAt: row.created_at,
    createdBy: row.created_by,
    updatedAt: row.updated_at,
  };
}

function toScreenUpdate(row: ScreenRow): ScreenUpdateRecord {
  return {
    rolloutId: row.rollout_id,
    screenId: row.screen_id,
    screenName: row.screen_name,
    version: row.version,
    wave: row.wave,
    phase: row.phase,
    bytesDone: BigInt(row.bytes_done),
    bytesTotal: BigInt(row.bytes_total),
    reason: row.reason,
    message: row.message,
    updatedAt: row.updated_at,
  };
}

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

/** The waves of `rolloutIds` with their per-phase counts, by rollout. */
async function loadWaves(db: Queryable, rolloutIds: readonly string[]): Promise<Map<string, WaveSnapshot[]>> {
  const waves = new Map<string, WaveSnapshot[]>(rolloutIds.map((id) => [id, []]));
  if (rolloutIds.length === 0) return waves;
  const [{ rows: waveRows }, { rows: counts }] = await Promise.all([
    db.query<WaveRow>(
      `SELECT rollout_id, wave, percent, screen_count, failures_accepted, started_at, finished_at
         FROM update_rollout_waves WHERE rollout_id = ANY($1::uuid[]) ORDER BY rollout_id, wave`,
      [rolloutIds],
    ),
    db.query<{ rollout_id: string; wave: number; phase: number; n: number }>(
      `SELECT rollout_id, wave, phase, count(*)::int AS n FROM update_rollout_screens
        WHERE rollout_id = ANY($1::uuid[]) GROUP BY rollout_id, wave, phase`,
      [rolloutIds],
    ),
  ]);
  for (const row of waveRows) {
    waves.get(row.rollout_id)?.push({
      percent: row.percent,
      screenCount: row.screen_count,
      failuresAccepted: row.failures_accepted,
      startedAt: row.started_at ?? undefined,
      finishedAt: row.finished_at ?? undefined,
      counts: emptyTally(),
    });
  }
  for (const row of counts) {
    const wave = waves.get(row.rollout_id)?.[row.wave];
    if (wave) addToTally(wave.counts, row.phase, row.n);
  }
  return waves;
}

/** Records `screenIds` for publishing (in the transaction that changed their offers). */
async function enqueuePublish(client: pg.PoolClient, tenantId: string, screenIds: readonly string[]): Promise<void> {
  if (screenIds.length === 0) return;
  await client.query(
    `INSERT INTO update_publish_outbox (screen_id, tenant_id)
     SELECT s, $2 FROM unnest($1::uuid[]) AS s WHERE EXISTS (SELECT 1 FROM screens WHERE id = s)
     ON CONFLICT (screen_id) DO UPDATE SET seq = nextval('update_publish_outbox_seq')`,
    [screenIds, tenantId],
  );
}

/**
 * Offers the rollout's release to its screens in `wave` that did not fail; their offers of other
 * (finished) rollouts end first, so a screen is offered one release at a time.
 */
async function offerWave(client: pg.PoolClient, rollout: RolloutSnapshot, wave: number): Promise<void> {
  const chosen = `SELECT screen_id FROM update_rollout_screens
                   WHERE rollout_id = $1 AND wave = $2 AND NOT offered AND phase <> ALL($3::smallint[])`;
  await client.query(
    `UPDATE update_rollout_screens SET offered = false
      WHERE offered AND rollout_id <> $1 AND screen_id IN (${chosen})`,
    [rollout.id, wave, failedPhases],
  );
  const { rows } = await client.query<{ screen_id: string }>(
    `UPDATE update_rollout_screens SET offered = true
      WHERE rollout_id = $1 AND wave = $2 AND NOT offered AND phase <> ALL($3::smallint[])
      RETURNING screen_id`,
    [rollout.id, wave, failedPhases],
  );
  await enqueuePublish(
    client,
    rollout.tenantId,
    rows.map((row) => row.screen_id),
  );
}

/** Withdraws the rollout's offers from its screens in `phases`. */
async function withdraw(client: pg.PoolClient, rollout: RolloutSnapshot, phases: readonly UpdatePhase[]) {
  const { rows } = await client.query<{ screen_id: string }>(
    `UPDATE update_rollout_screens SET offered = false
      WHERE rollout_id = $1 AND offered AND phase = ANY($2::smallint[]) RETURNING screen_id`,
    [rollout.id, phases],
  );
  await enqueuePublish(
    client,
    rollout.tenantId,
    rows.map((row) => row.screen_id),
  );
}

type StepExecutors = {
  [A in RolloutStep["action"]]: (
    client: pg.PoolClient,
    rollout: RolloutSnapshot,
    step: Extract<RolloutStep, { action: A }>,
    now: Date,
  ) => Promise<void>;
};

/** What each rollout step does to the tables (see {@link RolloutStep} for the meaning). */
const executors: StepExecutors = {
  async startWave(client, rollout, step, now) {
    await client.query("UPDATE update_rollout_waves SET started_at = $3 WHERE rollout_id = $1 AND wave = $2", [
      rollout.id,
      step.wave,
      now,
    ]);
    await offerWave(client, rollout, step.wave);
  },
  async finishWave(client, rollout, step, now) {
    await client.query("UPDATE update_rollout_waves SET finished_at = $3 WHERE rollout_id = $1 AND wave = $2", [
      rollout.id,
      step.wave,
      now,
    ]);
  },
  async advance(client, rollout, step) {
    await client.query("UPDATE update_rollouts SET current_wave = $2 WHERE id = $1", [rollout.id, step.wave]);
  },
  async pause(client, rollout, step) {
    await client.query("UPDATE update_rollouts SET state = $2, pause_reason = $3 WHERE id = $1", [
      rollout.id,
      RolloutState.PAUSED,
      step.reason,
    ]);
    await withdraw(client, rollout, [UpdatePhase.PENDING]);
  },
  async resume(client, rollout, step) {
    await client.query("UPDATE update_rollouts SET state = $2, pause_reason = $3 WHERE id = $1", [
      rollout.id,
      RolloutState.RUNNING,
      PauseReason.UNSPECIFIED,
    ]);
    await client.query("UPDATE update_rollout_waves SET failures_accepted = $3 WHERE rollout_id = $1 AND wave = $2", [
      rollout.id,
      step.wave,
      step.failuresAccepted,
    ]);
    if (rollout.waves[step.wave]?.startedAt) await offerWave(client, rollout, step.wave);
  },
  async complete(client, rollout) {
    await client.query("UPDATE update_rollouts SET state = $2, pause_reason = $3 WHERE id = $1", [
      rollout.id,
      RolloutState.COMPLETED,
      PauseReason.UNSPECIFIED,
    ]);
    await client.query("UPDATE update_rollout_screens SET active = false WHERE rollout_id = $1 AND active", [
      rollout.id,
    ]);
  },
  async abort(client, rollout) {
    await client.query("UPDATE update_rollouts SET state = $2, pause_reason = $3 WHERE id = $1", [
      rollout.id,
      RolloutState.ABORTED,
      PauseReason.UNSPECIFIED,
    ]);
    await withdraw(client, rollout, [UpdatePhase.PENDING, UpdatePhase.DOWNLOADING]);
    await client.query("UPDATE update_rollout_screens SET active = false WHERE rollout_id = $1 AND active", [
      rollout.id,
    ]);
  },
};

function applyStep(client: pg.PoolClient, rollout: RolloutSnapshot, step: RolloutStep, now: Date): Promise<void> {
  const execute = executors[step.action] as (
    client: pg.PoolClient,
    rollout: RolloutSnapshot,
    step: RolloutStep,
    now: Date,
  ) => Promise<void>;
  return execute(client, rollout, step, now);
}

/**
 * {@link UpdateStore} in plain SQL on the fleet's `pg` pool (tables from the os_updates
 * migration). Writes that decide something lock what they decide on: the rollout row
 * (`SELECT … FOR UPDATE`) for rollout steps, the screen's row in the rollout for its reports, so
 * concurrent reports, commands and control-plane replicas serialise per rollout and per screen.
 */
export class PgUpdateStore implements UpdateStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  insertRelease(release: ReleaseRecord, keepBlob: () => Promise<void>): Promise<{ existing?: ReleaseRecord }> {
    return inTransaction(this.#pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [release.sha256]);
      const existing = await this.#liveVersion(client, release.tenantId, release.version);
      if (existing) return { existing };
      await keepBlob();
      try {
        await client.query("SAVEPOINT insert_release");
        await client.query(
          `INSERT INTO update_releases (${releaseColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [
            release.id,
            release.tenantId,
            release.version,
            release.compatible,
            release.sha256,
            release.sizeBytes.toString(),
            release.signer,
            release.notes,
            release.uploadedAt,
            release.uploadedBy,
          ],
        );
        return {};
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // A parallel upload of the same version (another bundle) committed first.
        await client.query("ROLLBACK TO SAVEPOINT insert_release");
        const winner = await this.#liveVersion(client, release.tenantId, release.version);
        if (!winner) throw error;
        return { existing: winner };
      }
    });
  }

  async #liveVersion(db: Queryable, tenantId: string, version: string): Promise<ReleaseRecord | undefined> {
    const { rows } = await db.query<ReleaseRow>(
      `SELECT ${releaseColumns} FROM update_releases WHERE tenant_id = $1 AND version = $2 AND deleted_at IS NULL`,
      [tenantId, version],
    );
    return rows[0] ? toRelease(rows[0]) : undefined;
  }

  async getRelease(tenantId: string, id: string): Promise<ReleaseRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.#pool.query<ReleaseRow>(
      `SELECT ${releaseColumns} FROM update_releases WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL`,
      [tenantId, id],
    );
    return rows[0] ? toRelease(rows[0]) : undefined;
  }

  async listReleases(
    tenantId: string,
    page: { after: TimeCursor | undefined; limit: number },
  ): Promise<{ releases: ReleaseRecord[]; more: boolean }> {
    const { rows } = await this.#pool.query<ReleaseRow>(
      `SELECT ${releaseColumns} FROM update_releases
        WHERE tenant_id = $1 AND deleted_at IS NULL AND ($2::timestamptz IS NULL OR (uploaded_at, id) < ($2, $3::uuid))
        ORDER BY uploaded_at DESC, id DESC LIMIT $4`,
      [tenantId, page.after?.at ?? null, page.after?.id ?? null, page.limit + 1],
    );
    return { releases: rows.slice(0, page.limit).map(toRelease), more: rows.length > page.limit };
  }

  deleteRelease(
    tenantId: string,
    id: string,
    now: Date,
  ): Promise<{ deleted: ReleaseRecord } | { inUseBy: string } | "not-found"> {
    if (!isUuid(id)) return Promise.resolve("not-found");
    return inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<ReleaseRow>(
        `SELECT ${releaseColumns} FROM update_releases
          WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE`,
        [tenantId, id],
      );
      const row = rows[0];
      if (!row) return "not-found";
      const { rows: using } = await client.query<{ id: string }>(
        "SELECT id FROM update_rollouts WHERE release_id = $1 AND state = ANY($2::smallint[]) LIMIT 1",
        [id, unfinished],
      );
      if (using[0]) return { inUseBy: using[0].id };
      await client.query("UPDATE update_releases SET deleted_at = $2 WHERE id = $1", [id, now]);
      const { rows: withdrawn } = await client.query<{ screen_id: string }>(
        `UPDATE update_rollout_screens s SET offered = false FROM update_rollouts r
          WHERE r.id = s.rollout_id AND r.release_id = $1 AND s.offered RETURNING s.screen_id`,
        [id],
      );
      await enqueuePublish(
        client,
        tenantId,
        withdrawn.map((screen) => screen.screen_id),
      );
      return { deleted: toRelease(row) };
    });
  }

  removeBlobIfUnused(sha256: string, remove: () => Promise<void>): Promise<void> {
    return inTransaction(this.#pool, async (client) => {
      // The same lock key as the core's ingest (lockSha): a blob never disappears under a new row.
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [sha256]);
      const { rows } = await client.query<{ used: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM update_releases WHERE sha256 = $1 AND deleted_at IS NULL)
             OR EXISTS (SELECT 1 FROM videos WHERE sha256 = $1 OR thumbnail_sha256 = $1) AS used`,
        [sha256],
      );
      if (!rows[0]?.used) await remove();
    });
  }

  createRollout(
    rollout: RolloutRecord,
    waves: readonly PlannedWave[],
    screens: readonly NewRolloutScreen[],
  ): Promise<"created" | "release-gone" | { busyScreenId: string; busyRolloutId: string }> {
    return inTransaction(this.#pool, async (client) => {
      // Shares the release row with other rollouts; DeleteRelease's FOR UPDATE waits for this commit.
      const { rows: release } = await client.query(
        "SELECT 1 FROM update_releases WHERE id = $1 AND deleted_at IS NULL FOR SHARE",
        [rollout.releaseId],
      );
      if (release.length === 0) return "release-gone";
      // Creations are serialised (they are rare), so the check below cannot race another creation;
      // the unique index on active rows stays the last word.
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended('update_rollouts:create', 0))");
      const ids = screens.map((screen) => screen.screenId);
      const { rows: busy } = await client.query<{ screen_id: string; rollout_id: string }>(
        "SELECT screen_id, rollout_id FROM update_rollout_screens WHERE screen_id = ANY($1::uuid[]) AND active LIMIT 1",
        [ids],
      );
      if (busy[0]) return { busyScreenId: busy[0].screen_id, busyRolloutId: busy[0].rollout_id };
      await client.query(
        `INSERT INTO update_rollouts (${rolloutColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          rollout.id,
          rollout.tenantId,
          rollout.releaseId,
          rollout.state,
          rollout.pauseReason,
          rollout.maxFailurePercent,
          rollout.rebootPolicy,
          rollout.currentWave,
          rollout.createdAt,
          rollout.createdBy,
          rollout.updatedAt,
        ],
      );
      await client.query(
        `INSERT INTO update_rollout_waves (rollout_id, wave, percent, screen_count)
         SELECT $1, w.n - 1, w.percent, w.screen_count
           FROM unnest($2::int[], $3::int[]) WITH ORDINALITY AS w(percent, screen_count, n)`,
        [rollout.id, waves.map((wave) => wave.percent), waves.map((wave) => wave.screenCount)],
      );
      const columns = [
        ids,
        screens.map((screen) => screen.wave),
        screens.map((screen) => screen.phase),
        screens.map((screen) => screen.message),
      ];
      await client.query(
        `INSERT INTO update_rollout_screens (rollout_id, screen_id, tenant_id, wave, phase, message, updated_at)
         SELECT $1, s.screen_id, $2, s.wave, s.phase, s.message, $7
           FROM unnest($3::uuid[], $4::int[], $5::smallint[], $6::text[]) AS s(screen_id, wave, phase, message)`,
        [rollout.id, rollout.tenantId, ...columns, rollout.createdAt],
      );
      await client.query(
        `INSERT INTO update_screen_events (rollout_id, screen_id, wave, phase, message, at)
         SELECT $1, s.screen_id, s.wave, s.phase, s.message, $6
           FROM unnest($2::uuid[], $3::int[], $4::smallint[], $5::text[]) AS s(screen_id, wave, phase, message)`,
        [rollout.id, ...columns, rollout.createdAt],
      );
      return "created";
    });
  }

  async getRollout(tenantId: string, id: string): Promise<RolloutView | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.#pool.query<RolloutRow>(
      `SELECT ${rolloutColumns} FROM update_rollouts WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id],
    );
    return (await this.#views(rows))[0];
  }

  async listRollouts(
    tenantId: string,
    page: { after: TimeCursor | undefined; limit: number },
  ): Promise<{ rollouts: RolloutView[]; more: boolean }> {
    const { rows } = await this.#pool.query<RolloutRow>(
      `SELECT ${rolloutColumns} FROM update_rollouts
        WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $4`,
      [tenantId, page.after?.at ?? null, page.after?.id ?? null, page.limit + 1],
    );
    return { rollouts: await this.#views(rows.slice(0, page.limit)), more: rows.length > page.limit };
  }

  async #views(rows: readonly RolloutRow[]): Promise<RolloutView[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    const [waves, { rows: releases }] = await Promise.all([
      loadWaves(this.#pool, ids),
      this.#pool.query<ReleaseRow>(`SELECT ${releaseColumns} FROM update_releases WHERE id = ANY($1::uuid[])`, [
        rows.map((row) => row.release_id),
      ]),
    ]);
    const releaseById = new Map(releases.map((row) => [row.id, toRelease(row)]));
    return rows.map((row) => {
      const release = releaseById.get(row.release_id);
      if (!release) throw new Error(`rollout ${row.id} names release ${row.release_id}, which has no row`);
      return { rollout: toRollout(row), release, waves: waves.get(row.id) ?? [] };
    });
  }

  async unfinishedRolloutIds(): Promise<string[]> {
    const { rows } = await this.#pool.query<{ id: string }>(
      "SELECT id FROM update_rollouts WHERE state = ANY($1::smallint[]) ORDER BY created_at",
      [unfinished],
    );
    return rows.map((row) => row.id);
  }

  stepRollout(
    rolloutId: string,
    decide: (rollout: RolloutSnapshot) => RolloutStep | undefined,
    now: Date,
  ): Promise<RolloutSnapshot | undefined> {
    if (!isUuid(rolloutId)) return Promise.resolve(undefined);
    return inTransaction(this.#pool, async (client) => {
      for (let applied = 0; ; applied++) {
        const snapshot = await this.#snapshot(client, rolloutId);
        if (!snapshot) return undefined;
        const step = decide(snapshot);
        if (!step) return snapshot;
        if (applied === maxStepsPerTransaction) {
          throw new Error(`rollout ${rolloutId} did not settle after ${applied} steps (last: ${step.action})`);
        }
        await applyStep(client, snapshot, step, now);
        await client.query("UPDATE update_rollouts SET updated_at = $2 WHERE id = $1", [rolloutId, now]);
      }
    });
  }

  async #snapshot(client: pg.PoolClient, rolloutId: string): Promise<RolloutSnapshot | undefined> {
    const { rows } = await client.query<RolloutRow>(
      `SELECT ${rolloutColumns} FROM update_rollouts WHERE id = $1 FOR UPDATE`,
      [rolloutId],
    );
    const row = rows[0];
    if (!row) return undefined;
    const waves = await loadWaves(client, [rolloutId]);
    return {
      id: row.id,
      tenantId: row.tenant_id,
      state: row.state,
      pauseReason: row.pause_reason,
      currentWave: row.current_wave,
      maxFailurePercent: row.max_failure_percent,
      waves: waves.get(rolloutId) ?? [],
    };
  }

  updateScreen(
    rolloutId: string,
    screenId: string,
    decide: (current: ScreenUpdateState, releaseVersion: string) => ScreenOutcome,
    now: Date,
  ): Promise<{ outcome: ScreenOutcome; tenantId: string } | undefined> {
    if (!isUuid(rolloutId) || !isUuid(screenId)) return Promise.resolve(undefined);
    return inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<{
        tenant_id: string;
        wave: number;
        phase: number;
        bytes_done: string;
        bytes_total: string;
        reason: number;
        message: string;
        offered: boolean;
        version: string;
      }>(
        `SELECT s.tenant_id, s.wave, s.phase, s.bytes_done, s.bytes_total, s.reason, s.message, s.offered, rel.version
           FROM update_rollout_screens s
           JOIN update_rollouts r ON r.id = s.rollout_id
           JOIN update_releases rel ON rel.id = r.release_id
          WHERE s.rollout_id = $1 AND s.screen_id = $2
          FOR UPDATE OF s`,
        [rolloutId, screenId],
      );
      const row = rows[0];
      if (!row) return undefined;
      const current: ScreenUpdateState = {
        phase: row.phase,
        bytesDone: BigInt(row.bytes_done),
        bytesTotal: BigInt(row.bytes_total),
        reason: row.reason,
        message: row.message,
      };
      const outcome = decide(current, row.version);
      if (outcome.kind === "unchanged" || outcome.kind === "ignored") return { outcome, tenantId: row.tenant_id };
      const { next } = outcome;
      const phaseChanged = outcome.kind === "phase";
      await client.query(
        `UPDATE update_rollout_screens
            SET phase = $3, bytes_done = $4, bytes_total = $5, reason = $6, message = $7,
                updated_at = CASE WHEN $8 THEN $9 ELSE updated_at END
          WHERE rollout_id = $1 AND screen_id = $2`,
        [
          rolloutId,
          screenId,
          next.phase,
          next.bytesDone.toString(),
          next.bytesTotal.toString(),
          next.reason,
          next.message,
          phaseChanged,
          now,
        ],
      );
      if (phaseChanged) {
        await client.query(
          `INSERT INTO update_screen_events (rollout_id, screen_id, wave, phase, bytes_done, bytes_total, reason, message, at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            rolloutId,
            screenId,
            row.wave,
            next.phase,
            next.bytesDone.toString(),
            next.bytesTotal.toString(),
            next.reason,
            next.message,
            now,
          ],
        );
      }
      // A screen that failed or went back is not asked again: the release stays out of its desired state.
      if (phaseChanged && row.offered && failedPhases.includes(next.phase)) {
        await client.query(
          "UPDATE update_rollout_screens SET offered = false WHERE rollout_id = $1 AND screen_id = $2",
          [rolloutId, screenId],
        );
        await enqueuePublish(client, row.tenant_id, [screenId]);
      }
      return { outcome, tenantId: row.tenant_id };
    });
  }

  async pendingRolloutsOf(screenId: string): Promise<string[]> {
    if (!isUuid(screenId)) return [];
    const { rows } = await this.#pool.query<{ rollout_id: string }>(
      "SELECT rollout_id FROM update_rollout_screens WHERE screen_id = $1 AND active AND phase = $2",
      [screenId, UpdatePhase.PENDING],
    );
    return rows.map((row) => row.rollout_id);
  }

  async listRolloutScreens(
    tenantId: string,
    rolloutId: string,
    query: { phases: readonly UpdatePhase[]; after: RolloutScreenCursor | undefined; limit: number },
  ): Promise<{ screens: ScreenUpdateRecord[]; more: boolean }> {
    if (!isUuid(rolloutId)) return { screens: [], more: false };
    const { after } = query;
    const { rows } = await this.#pool.query<ScreenRow>(
      `SELECT s.rollout_id, s.screen_id, sc.name AS screen_name, rel.version, s.wave, s.phase, s.bytes_done,
              s.bytes_total, s.reason, s.message, s.updated_at
         FROM update_rollout_screens s
         JOIN screens sc ON sc.id = s.screen_id
         JOIN update_rollouts r ON r.id = s.rollout_id
         JOIN update_releases rel ON rel.id = r.release_id
        WHERE s.rollout_id = $1 AND s.tenant_id = $2
          AND (cardinality($3::smallint[]) = 0 OR s.phase = ANY($3::smallint[]))
          AND ($4::int IS NULL OR (s.wave, sc.name COLLATE "C", s.screen_id) > ($4, $5::text COLLATE "C", $6::uuid))
        ORDER BY s.wave, sc.name COLLATE "C", s.screen_id
        LIMIT $7`,
      [rolloutId, tenantId, query.phases, after?.wave ?? null, after?.name ?? null, after?.id ?? null, query.limit + 1],
    );
    return { screens: rows.slice(0, query.limit).map(toScreenUpdate), more: rows.length > query.limit };
  }

  async listScreenUpdates(tenantId: string, screenId: string, limit: number): Promise<ScreenUpdateRecord[]> {
    if (!isUuid(screenId)) return [];
    const { rows } = await this.#pool.query<ScreenRow>(
      `SELECT e.rollout_id, e.screen_id, sc.name AS screen_name, rel.version, e.wave, e.phase, e.bytes_done,
              e.bytes_total, e.reason, e.message, e.at AS updated_at
         FROM update_screen_events e
         JOIN screens sc ON sc.id = e.screen_id
         JOIN update_rollouts r ON r.id = e.rollout_id
         JOIN update_releases rel ON rel.id = r.release_id
        WHERE e.screen_id = $1 AND r.tenant_id = $2
        ORDER BY e.id DESC LIMIT $3`,
      [screenId, tenantId, limit],
    );
    return rows.map(toScreenUpdate);
  }

  async pendingPublishes(limit: number): Promise<OutboxEntry[]> {
    const { rows } = await this.#pool.query<{ screen_id: string; tenant_id: string; seq: string }>(
      "SELECT screen_id, tenant_id, seq FROM update_publish_outbox ORDER BY seq LIMIT $1",
      [limit],
    );
    return rows.map((row) => ({ screenId: row.screen_id, tenantId: row.tenant_id, seq: row.seq }));
  }

  async published(entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#pool.query(
      `DELETE FROM update_publish_outbox o USING unnest($1::uuid[], $2::bigint[]) AS d(screen_id, seq)
        WHERE o.screen_id = d.screen_id AND o.seq = d.seq`,
      [entries.map((entry) => entry.screenId), entries.map((entry) => entry.seq)],
    );
  }

  async offersFor(screenIds: readonly string[]): Promise<Map<string, OsUpdate>> {
    const offers = new Map<string, OsUpdate>();
    const ids = screenIds.filter(isUuid);
    if (ids.length === 0) return offers;
    const { rows } = await this.#pool.query<{
      screen_id: string;
      rollout_id: string;
      release_id: string;
      version: string;
      compatible: string;
      sha256: string;
      size_bytes: string;
      reboot_policy: number;
    }>(
      `SELECT s.screen_id, s.rollout_id, r.release_id, rel.version, rel.compatible, rel.sha256, rel.size_bytes,
              r.reboot_policy
         FROM update_rollout_screens s
         JOIN update_rollouts r ON r.id = s.rollout_id
         JOIN update_releases rel ON rel.id = r.release_id
        WHERE s.screen_id = ANY($1::uuid[]) AND s.offered`,
      [ids],
    );
    for (const row of rows) {
      offers.set(
        row.screen_id,
        create(OsUpdateSchema, {
          rolloutId: row.rollout_id,
          releaseId: row.release_id,
          version: row.version,
          compatible: row.compatible,
          bundle: { sha256: row.sha256, sizeBytes: BigInt(row.size_bytes), url: bundleUrl(row.sha256) },
          rebootPolicy: row.reboot_policy,
        }),
      );
    }
    return offers;
  }

  async screenMayFetchBundle(screenId: string, sha256: string): Promise<boolean> {
    if (!isUuid(screenId)) return false;
    const { rows } = await this.#pool.query(
      `SELECT 1 FROM update_rollout_screens s
         JOIN update_rollouts r ON r.id = s.rollout_id
         JOIN update_releases rel ON rel.id = r.release_id
        WHERE s.screen_id = $1 AND rel.sha256 = $2 AND rel.deleted_at IS NULL
        LIMIT 1`,
      [screenId, sha256],
    );
    return rows.length > 0;
  }
}
