import { HealthSchema, PlaybackStatusSchema } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import { decodeScreenSettings, type StoredSettings } from "../../platform/db/screen-settings.ts";
import { inTransaction, isUuid } from "../pg/sql.ts";
import type { NotificationPayload, OpenAlert, PendingAlert } from "./plan.ts";
import type {
  AlertBacklog,
  AlertCursor,
  AlertFilter,
  AlertRecord,
  AlertStore,
  ChannelRecord,
  ChannelTarget,
  DeadLetterRecord,
  OutboxItem,
  PassDecisions,
  PassResult,
} from "./ports.ts";
import { defaultRules, type RuleKind, type RuleSetting, ruleKinds, type ScreenFacts } from "./rules.ts";

/** The advisory lock of an evaluation pass: one replica evaluates at a time. */
const evaluationLock = "alerts:evaluate";

const kindOf = (stored: number): RuleKind => ruleKinds[stored - 1] as RuleKind;
const storedKind = (kind: RuleKind): number => ruleKinds.indexOf(kind) + 1;
const channelKinds = { webhook: 1, email: 2 } as const;

interface AlertRow {
  id: string;
  tenant_id: string;
  screen_id: string;
  screen_name: string;
  kind: number;
  detail: string;
  opened_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
  acknowledged_at: Date | null;
  acknowledged_by: string;
}

const alertColumns = `a.id, a.tenant_id, a.screen_id, s.name AS screen_name, a.kind, a.detail, a.opened_at, a.updated_at,
  a.resolved_at, a.acknowledged_at, a.acknowledged_by`;

function alertOf(row: AlertRow): AlertRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    screenId: row.screen_id,
    screenName: row.screen_name,
    kind: kindOf(row.kind),
    detail: row.detail,
    openedAt: row.opened_at,
    updatedAt: row.updated_at,
    resolvedAt: row.resolved_at,
    acknowledgedAt: row.acknowledged_at,
    acknowledgedBy: row.acknowledged_by,
  };
}

interface ChannelRow {
  id: string;
  tenant_id: string;
  name: string;
  kind: number;
  url: string;
  recipients: string[];
  created_at: Date;
}

function targetOf(row: Pick<ChannelRow, "kind" | "url" | "recipients">): ChannelTarget {
  return row.kind === channelKinds.webhook
    ? { kind: "webhook", url: row.url }
    : { kind: "email", recipients: row.recipients };
}

function channelOf(row: ChannelRow): ChannelRecord {
  return { id: row.id, tenantId: row.tenant_id, name: row.name, target: targetOf(row), createdAt: row.created_at };
}

/** {@link AlertStore} on the fleet's pool. */
export class PgAlertStore implements AlertStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  runPass(now: Date, maxPerMinute: number, decide: PassDecisions): Promise<PassResult | undefined> {
    return inTransaction(this.#pool, async (client) => {
      const { rows: locked } = await client.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok",
        [evaluationLock],
      );
      if (!locked[0]?.ok) return undefined;
      const screens = await readFacts(client);
      const rules = await readRules(client);
      const { rows: openRows } = await client.query<{
        id: string;
        tenant_id: string;
        screen_id: string;
        kind: number;
        detail: string;
      }>("SELECT id, tenant_id, screen_id, kind, detail FROM alerts WHERE resolved_at IS NULL");
      const open: OpenAlert[] = openRows.map((row) => ({
        id: row.id,
        tenantId: row.tenant_id,
        screenId: row.screen_id,
        kind: kindOf(row.kind),
        detail: row.detail,
      }));
      const fallback = defaultRules();
      const plan = decide.alerts(screens, (tenantId) => rules.get(tenantId) ?? fallback, open);

      if (plan.opened.length > 0) {
        // The partial unique index makes a second opening (another replica that evaluated
        // without the lock, e.g. after a lock timeout) do nothing.
        await client.query(
          `INSERT INTO alerts (id, tenant_id, screen_id, kind, detail, opened_at, updated_at)
           SELECT gen_random_uuid(), t, s, k, d, $5, $5
           FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::text[]) AS v(t, s, k, d)
           ON CONFLICT (tenant_id, screen_id, kind) WHERE resolved_at IS NULL DO NOTHING`,
          [
            plan.opened.map((o) => o.tenantId),
            plan.opened.map((o) => o.screenId),
            plan.opened.map((o) => storedKind(o.kind)),
            plan.opened.map((o) => o.detail),
            now,
          ],
        );
      }
      if (plan.updated.length > 0) {
        await client.query(
          `UPDATE alerts a SET detail = v.d, updated_at = $3
           FROM unnest($1::uuid[], $2::text[]) AS v(id, d) WHERE a.id = v.id`,
          [plan.updated.map((u) => u.id), plan.updated.map((u) => u.detail), now],
        );
      }
      if (plan.resolved.length > 0) {
        await client.query("UPDATE alerts SET resolved_at = $2, updated_at = $2 WHERE id = ANY($1::uuid[])", [
          plan.resolved,
          now,
        ]);
      }

      const pending = await readPending(client);
      const budgets = await readBudgets(client, now, maxPerMinute);
      const notes = decide.notifications(pending, (tenantId) => budgets.get(tenantId) ?? maxPerMinute);
      let queued = 0;
      if (notes.notifications.length > 0) {
        const { rowCount } = await client.query(
          `INSERT INTO alert_outbox (id, tenant_id, channel_id, notification_id, subject, payload, created_at,
                                     next_attempt_at)
           SELECT gen_random_uuid(), c.tenant_id, c.id, v.nid, v.subject, v.payload, $4, $4
           FROM unnest($1::uuid[], $2::uuid[], $3::jsonb[], $5::text[]) AS v(t, nid, payload, subject)
           JOIN alert_channels c ON c.tenant_id = v.t`,
          [
            notes.notifications.map((n) => n.tenantId),
            notes.notifications.map((n) => n.payload.id),
            notes.notifications.map((n) => JSON.stringify(n.payload)),
            now,
            notes.notifications.map((n) => n.payload.subject),
          ],
        );
        queued = rowCount ?? 0;
      }
      if (notes.openNotified.length > 0) {
        await client.query("UPDATE alerts SET open_notified = true WHERE id = ANY($1::uuid[])", [notes.openNotified]);
      }
      if (notes.resolveNotified.length > 0) {
        await client.query("UPDATE alerts SET resolve_notified = true WHERE id = ANY($1::uuid[])", [
          notes.resolveNotified,
        ]);
      }
      return {
        opened: plan.opened.length,
        updated: plan.updated.length,
        resolved: plan.resolved.length,
        notifications: notes.notifications.length,
        queued,
      };
    });
  }

  async claimDue(now: Date, leaseMs: number, limit: number, exclude: readonly string[]): Promise<OutboxItem[]> {
    const { rows } = await this.#pool.query<{
      id: string;
      tenant_id: string;
      channel_id: string;
      attempts: number;
      payload: NotificationPayload;
      kind: number;
      url: string;
      recipients: string[];
      secret: string;
    }>(
      `UPDATE alert_outbox o SET attempts = o.attempts + 1, last_attempt_at = $1, next_attempt_at = $2
       FROM (SELECT id FROM alert_outbox
             WHERE delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $1 AND NOT (id = ANY($4::uuid[]))
             ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) due,
            alert_channels c
       WHERE o.id = due.id AND c.id = o.channel_id
       RETURNING o.id, o.tenant_id, o.channel_id, o.attempts, o.payload, c.kind, c.url, c.recipients, c.secret`,
      [now, new Date(now.getTime() + leaseMs), limit, exclude],
    );
    return rows.map((row) => ({
      id: row.id,
      tenantId: row.tenant_id,
      channelId: row.channel_id,
      attempt: row.attempts,
      payload: row.payload,
      target: targetOf(row),
      secret: row.secret,
    }));
  }

  async markDelivered(id: string, now: Date): Promise<void> {
    await this.#pool.query("UPDATE alert_outbox SET delivered_at = $2, last_error = '' WHERE id = $1", [id, now]);
  }

  async markFailed(id: string, now: Date, error: string, retryAt: Date | undefined): Promise<void> {
    await this.#pool.query(
      `UPDATE alert_outbox SET last_error = $2, next_attempt_at = coalesce($3, next_attempt_at),
                               dead_at = CASE WHEN $3::timestamptz IS NULL THEN $4::timestamptz END
       WHERE id = $1`,
      [id, error.slice(0, 1000), retryAt ?? null, now],
    );
  }

  async pruneDelivered(before: Date): Promise<number> {
    const { rowCount } = await this.#pool.query("DELETE FROM alert_outbox WHERE delivered_at < $1", [before]);
    return rowCount ?? 0;
  }

  async backlog(): Promise<AlertBacklog> {
    const { rows } = await this.#pool.query<{ open: string; pending: string; dead: string }>(
      `SELECT (SELECT count(*) FROM alerts WHERE resolved_at IS NULL) AS open,
              (SELECT count(*) FROM alert_outbox WHERE delivered_at IS NULL AND dead_at IS NULL) AS pending,
              (SELECT count(*) FROM alert_outbox WHERE dead_at IS NOT NULL) AS dead`,
    );
    const row = rows[0];
    return { open: Number(row?.open ?? 0), pending: Number(row?.pending ?? 0), dead: Number(row?.dead ?? 0) };
  }

  async listAlerts(
    tenantId: string,
    filter: AlertFilter,
    size: number,
    after: AlertCursor | undefined,
  ): Promise<AlertRecord[]> {
    const { rows } = await this.#pool.query<AlertRow>(
      `SELECT ${alertColumns} FROM alerts a JOIN screens s ON s.id = a.screen_id
       WHERE a.tenant_id = $1
         AND ($2::uuid IS NULL OR a.screen_id = $2)
         AND ($3::smallint IS NULL OR a.kind = $3)
         AND ($4::text IS NULL OR ($4 = 'open') = (a.resolved_at IS NULL))
         AND ($5::timestamptz IS NULL OR (a.opened_at, a.id) < ($5, $6::uuid))
       ORDER BY a.opened_at DESC, a.id DESC LIMIT $7`,
      [
        tenantId,
        filter.screenId ?? null,
        filter.kind ? storedKind(filter.kind) : null,
        filter.state ?? null,
        after?.openedAt ?? null,
        after?.id ?? null,
        size,
      ],
    );
    return rows.map(alertOf);
  }

  async getAlert(tenantId: string, id: string): Promise<AlertRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.#pool.query<AlertRow>(
      `SELECT ${alertColumns} FROM alerts a JOIN screens s ON s.id = a.screen_id WHERE a.tenant_id = $1 AND a.id = $2`,
      [tenantId, id],
    );
    return rows[0] && alertOf(rows[0]);
  }

  async acknowledge(tenantId: string, id: string, actorId: string, now: Date): Promise<AlertRecord | undefined> {
    if (!isUuid(id)) return undefined;
    await this.#pool.query(
      `UPDATE alerts SET acknowledged_at = $3, acknowledged_by = $4
       WHERE tenant_id = $1 AND id = $2 AND acknowledged_at IS NULL`,
      [tenantId, id, now, actorId],
    );
    return this.getAlert(tenantId, id);
  }

  async screenExists(tenantId: string, screenId: string): Promise<boolean> {
    if (!isUuid(screenId)) return false;
    const { rowCount } = await this.#pool.query("SELECT 1 FROM screens WHERE tenant_id = $1 AND id = $2", [
      tenantId,
      screenId,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async rules(tenantId: string): Promise<Map<RuleKind, RuleSetting>> {
    const rules = defaultRules();
    const { rows } = await this.#pool.query<{ kind: number; enabled: boolean; threshold: number }>(
      "SELECT kind, enabled, threshold FROM alert_rules WHERE tenant_id = $1",
      [tenantId],
    );
    for (const row of rows) {
      const kind = kindOf(row.kind);
      rules.set(kind, { kind, enabled: row.enabled, threshold: row.threshold });
    }
    return rules;
  }

  async setRules(tenantId: string, rules: readonly RuleSetting[], now: Date): Promise<void> {
    await this.#pool.query(
      `INSERT INTO alert_rules (tenant_id, kind, enabled, threshold, updated_at)
       SELECT $1, k, e, t, $5 FROM unnest($2::smallint[], $3::boolean[], $4::float8[]) AS v(k, e, t)
       ON CONFLICT (tenant_id, kind) DO UPDATE
         SET enabled = excluded.enabled, threshold = excluded.threshold, updated_at = excluded.updated_at`,
      [tenantId, rules.map((r) => storedKind(r.kind)), rules.map((r) => r.enabled), rules.map((r) => r.threshold), now],
    );
  }

  async createChannel(channel: ChannelRecord, secret: string): Promise<void> {
    const { target } = channel;
    await this.#pool.query(
      `INSERT INTO alert_channels (id, tenant_id, name, kind, url, secret, recipients, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        channel.id,
        channel.tenantId,
        channel.name,
        channelKinds[target.kind],
        target.kind === "webhook" ? target.url : "",
        secret,
        target.kind === "email" ? target.recipients : [],
        channel.createdAt,
      ],
    );
  }

  async listChannels(tenantId: string): Promise<ChannelRecord[]> {
    const { rows } = await this.#pool.query<ChannelRow>(
      `SELECT id, tenant_id, name, kind, url, recipients, created_at FROM alert_channels
       WHERE tenant_id = $1 ORDER BY created_at, id`,
      [tenantId],
    );
    return rows.map(channelOf);
  }

  async deleteChannel(tenantId: string, id: string): Promise<ChannelRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.#pool.query<ChannelRow>(
      `DELETE FROM alert_channels WHERE tenant_id = $1 AND id = $2
       RETURNING id, tenant_id, name, kind, url, recipients, created_at`,
      [tenantId, id],
    );
    return rows[0] && channelOf(rows[0]);
  }

  async listDeadLetters(tenantId: string, limit: number): Promise<DeadLetterRecord[]> {
    const { rows } = await this.#pool.query<{
      id: string;
      channel_id: string;
      subject: string;
      attempts: number;
      last_error: string;
      created_at: Date;
      dead_at: Date;
    }>(
      `SELECT id, channel_id, subject, attempts, last_error, created_at, dead_at FROM alert_outbox
       WHERE tenant_id = $1 AND dead_at IS NOT NULL ORDER BY dead_at DESC, id LIMIT $2`,
      [tenantId, limit],
    );
    return rows.map((row) => ({
      id: row.id,
      channelId: row.channel_id,
      subject: row.subject,
      attempts: row.attempts,
      lastError: row.last_error,
      createdAt: row.created_at,
      failedAt: row.dead_at,
    }));
  }

  async retryDeadLetter(tenantId: string, id: string, now: Date): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { rowCount } = await this.#pool.query(
      `UPDATE alert_outbox SET dead_at = NULL, attempts = 0, next_attempt_at = $3
       WHERE tenant_id = $1 AND id = $2 AND dead_at IS NOT NULL`,
      [tenantId, id, now],
    );
    return (rowCount ?? 0) > 0;
  }

  async discardDeadLetter(tenantId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { rowCount } = await this.#pool.query(
      "DELETE FROM alert_outbox WHERE tenant_id = $1 AND id = $2 AND dead_at IS NOT NULL",
      [tenantId, id],
    );
    return (rowCount ?? 0) > 0;
  }
}

/**
 * Every screen that has a status row. Health and playback are decoded only for screens whose
 * stream is open: the rules judge health only while a screen is online.
 */
async function readFacts(client: pg.PoolClient): Promise<ScreenFacts[]> {
  const { rows } = await client.query<{
    id: string;
    tenant_id: string;
    timezone: string;
    settings: StoredSettings | null;
    last_seen_at: Date | null;
    stream_open: boolean;
    heartbeat_interval_seconds: number;
    last_health: Buffer | null;
    playback: Buffer | null;
    desired_version: string;
    applied_version: string;
    last_failed_version: string;
    last_sync_error: string;
  }>(
    `SELECT s.id, s.tenant_id, s.timezone, s.settings, st.last_seen_at, st.stream_open, st.heartbeat_interval_seconds,
            CASE WHEN st.stream_open THEN st.last_health END AS last_health,
            CASE WHEN st.stream_open THEN st.playback END AS playback,
            st.desired_version, st.applied_version, st.last_failed_version, st.last_sync_error
     FROM screens s JOIN screen_status st ON st.screen_id = s.id`,
  );
  return rows.map((row) => ({
    tenantId: row.tenant_id,
    screenId: row.id,
    lastSeenAt: row.last_seen_at,
    streamOpen: row.stream_open,
    heartbeatIntervalSeconds: row.heartbeat_interval_seconds,
    health: row.last_health ? fromBinary(HealthSchema, row.last_health) : undefined,
    playback: row.playback ? fromBinary(PlaybackStatusSchema, row.playback) : undefined,
    desiredVersion: BigInt(row.desired_version),
    appliedVersion: BigInt(row.applied_version),
    lastFailedVersion: BigInt(row.last_failed_version),
    lastSyncError: row.last_sync_error,
    timezone: row.timezone,
    displayHours: row.settings?.displayHours ? decodeScreenSettings(row.settings).displayHours : [],
  }));
}

/** The tenants that changed a rule: their rules (defaults filled in). */
async function readRules(client: pg.PoolClient): Promise<Map<string, Map<RuleKind, RuleSetting>>> {
  const { rows } = await client.query<{ tenant_id: string; kind: number; enabled: boolean; threshold: number }>(
    "SELECT tenant_id, kind, enabled, threshold FROM alert_rules",
  );
  const byTenant = new Map<string, Map<RuleKind, RuleSetting>>();
  for (const row of rows) {
    const rules = byTenant.get(row.tenant_id) ?? defaultRules();
    const kind = kindOf(row.kind);
    rules.set(kind, { kind, enabled: row.enabled, threshold: row.threshold });
    byTenant.set(row.tenant_id, rules);
  }
  return byTenant;
}

async function readPending(client: pg.PoolClient): Promise<PendingAlert[]> {
  const { rows } = await client.query<{
    id: string;
    tenant_id: string;
    screen_id: string;
    screen_name: string;
    kind: number;
    detail: string;
    opened_at: Date;
    resolved_at: Date | null;
    open_notified: boolean;
    resolve_notified: boolean;
  }>(
    `SELECT a.id, a.tenant_id, a.screen_id, s.name AS screen_name, a.kind, a.detail, a.opened_at, a.resolved_at,
            a.open_notified, a.resolve_notified
     FROM alerts a JOIN screens s ON s.id = a.screen_id
     WHERE NOT a.open_notified OR (a.resolved_at IS NOT NULL AND NOT a.resolve_notified)
     ORDER BY a.opened_at, a.id`,
  );
  return rows.map((row) => ({
    id: row.id,
    tenantId: row.tenant_id,
    screenId: row.screen_id,
    screenName: row.screen_name,
    kind: kindOf(row.kind),
    detail: row.detail,
    openedAt: row.opened_at,
    resolvedAt: row.resolved_at,
    openNotified: row.open_notified,
    resolveNotified: row.resolve_notified,
  }));
}

/** Per tenant with a channel: notifications it may still make this minute (its busiest channel decides). */
async function readBudgets(client: pg.PoolClient, now: Date, maxPerMinute: number): Promise<Map<string, number>> {
  const { rows } = await client.query<{ tenant_id: string; busiest: string }>(
    `SELECT c.tenant_id, max(coalesce(n.sent, 0)) AS busiest
     FROM alert_channels c
     LEFT JOIN (SELECT channel_id, count(*) AS sent FROM alert_outbox WHERE created_at > $1 GROUP BY channel_id) n
       ON n.channel_id = c.id
     GROUP BY c.tenant_id`,
    [new Date(now.getTime() - 60_000)],
  );
  return new Map(rows.map((row) => [row.tenant_id, Math.max(0, maxPerMinute - Number(row.busiest))]));
}
