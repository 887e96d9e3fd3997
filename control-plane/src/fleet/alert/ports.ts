import type { AlertPlan, NotificationPayload, NotificationPlan, OpenAlert, PendingAlert } from "./plan.ts";
import type { RuleKind, RuleSetting, ScreenFacts } from "./rules.ts";

/**
 * The alert feature's port. PostgreSQL (./pg-alert-store.ts) is the one implementation: its
 * guarantees (one open alert per screen and rule, one evaluating replica, claimed deliveries) are
 * the database's, so a fake would test none of them; tests run on a real PostgreSQL.
 */

/** A stored alert, with its screen's name. */
export interface AlertRecord {
  id: string;
  tenantId: string;
  screenId: string;
  screenName: string;
  kind: RuleKind;
  detail: string;
  openedAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
  acknowledgedAt: Date | null;
  acknowledgedBy: string;
}

/** Which alerts ListAlerts returns. */
export interface AlertFilter {
  screenId?: string;
  kind?: RuleKind;
  state?: "open" | "resolved";
}

/** Keyset position in ListAlerts' order (opened_at desc, id desc). */
export interface AlertCursor {
  openedAt: Date;
  id: string;
}

/** Where notifications go. */
export type ChannelTarget = { kind: "webhook"; url: string } | { kind: "email"; recipients: string[] };

/** A channel as the console sees it (no secret). */
export interface ChannelRecord {
  id: string;
  tenantId: string;
  name: string;
  target: ChannelTarget;
  createdAt: Date;
}

/** A notification that failed every attempt for one channel. */
export interface DeadLetterRecord {
  id: string;
  channelId: string;
  subject: string;
  attempts: number;
  lastError: string;
  createdAt: Date;
  failedAt: Date;
}

/** One claimed delivery: a notification for one channel, with what sending it needs. */
export interface OutboxItem {
  id: string;
  tenantId: string;
  channelId: string;
  /** The attempt this claim is (1 = first). */
  attempt: number;
  payload: NotificationPayload;
  target: ChannelTarget;
  /** The webhook's signing secret ("" for e-mail). */
  secret: string;
}

/** The decisions one evaluation pass takes, given what the store read inside its transaction. */
export interface PassDecisions {
  alerts(
    screens: ScreenFacts[],
    rulesOf: (tenantId: string) => ReadonlyMap<RuleKind, RuleSetting>,
    open: OpenAlert[],
  ): AlertPlan;
  notifications(pending: PendingAlert[], budgetOf: (tenantId: string) => number): NotificationPlan;
}

/** What one pass did. */
export interface PassResult {
  opened: number;
  updated: number;
  resolved: number;
  /** Notifications made (each goes to every channel of its tenant). */
  notifications: number;
  /** Outbox rows written (notifications × channels). */
  queued: number;
}

/** Counts for the metrics, all tenants. */
export interface AlertBacklog {
  open: number;
  /** Outbox rows not delivered and not dead. */
  pending: number;
  dead: number;
}

/** Everything the alert engine, the deliverer and AlertService read and write. */
export interface AlertStore {
  /**
   * One evaluation: in one transaction, under an advisory lock only one replica can hold, reads
   * every screen's facts, the rules and the open alerts, applies `decide.alerts`, then reads the
   * unnotified changes and each tenant's remaining budget (`maxPerMinute` minus the most
   * notifications any of its channels got in the minute before `now`) and applies
   * `decide.notifications` (outbox rows, one per channel; flags set). Undefined when another
   * replica holds the lock.
   */
  runPass(now: Date, maxPerMinute: number, decide: PassDecisions): Promise<PassResult | undefined>;
  /**
   * Claims up to `limit` due deliveries (not delivered, not dead, next attempt at or before
   * `now`), skipping rows another replica is claiming; each claim counts an attempt and pushes
   * the next attempt `leaseMs` ahead, so a process that dies mid-delivery leaves the row to be
   * claimed again after the lease (at-least-once). Rows in `exclude` are not claimed.
   */
  claimDue(now: Date, leaseMs: number, limit: number, exclude: readonly string[]): Promise<OutboxItem[]>;
  markDelivered(id: string, now: Date): Promise<void>;
  /** Records a failed attempt; `retryAt` undefined makes it a dead letter. */
  markFailed(id: string, now: Date, error: string, retryAt: Date | undefined): Promise<void>;
  /** Deletes delivered rows delivered before `before` (they only served the per-minute bound). */
  pruneDelivered(before: Date): Promise<number>;
  backlog(): Promise<AlertBacklog>;

  listAlerts(
    tenantId: string,
    filter: AlertFilter,
    size: number,
    after: AlertCursor | undefined,
  ): Promise<AlertRecord[]>;
  getAlert(tenantId: string, id: string): Promise<AlertRecord | undefined>;
  /** Sets who and when, unless already acknowledged; undefined when the alert is not the tenant's. */
  acknowledge(tenantId: string, id: string, actorId: string, now: Date): Promise<AlertRecord | undefined>;
  screenExists(tenantId: string, screenId: string): Promise<boolean>;
  /** Every rule of the tenant: defaults where it set nothing. */
  rules(tenantId: string): Promise<Map<RuleKind, RuleSetting>>;
  setRules(tenantId: string, rules: readonly RuleSetting[], now: Date): Promise<void>;
  createChannel(channel: ChannelRecord, secret: string): Promise<void>;
  listChannels(tenantId: string): Promise<ChannelRecord[]>;
  /** The deleted channel, or undefined when it is not the tenant's. */
  deleteChannel(tenantId: string, id: string): Promise<ChannelRecord | undefined>;
  listDeadLetters(tenantId: string, limit: number): Promise<DeadLetterRecord[]>;
  /** Queues the dead letter again with fresh attempts; false when it is not a dead letter of the tenant. */
  retryDeadLetter(tenantId: string, id: string, now: Date): Promise<boolean>;
  discardDeadLetter(tenantId: string, id: string): Promise<boolean>;
}
