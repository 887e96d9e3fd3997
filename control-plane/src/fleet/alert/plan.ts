import { judgeScreen, type RuleKind, type RuleSetting, type ScreenFacts } from "./rules.ts";

/**
 * The engine's two pure planners: which alerts open, change or resolve ({@link planAlerts}), and
 * which notifications the changes make ({@link planNotifications}). No I/O; the engine's store
 * applies the plans in one transaction.
 */

/** An open alert as stored. */
export interface OpenAlert {
  id: string;
  tenantId: string;
  screenId: string;
  kind: RuleKind;
  detail: string;
}

/** What one evaluation changes. */
export interface AlertPlan {
  opened: Array<{ tenantId: string; screenId: string; kind: RuleKind; detail: string }>;
  /** Open alerts whose detail changed. */
  updated: Array<{ id: string; detail: string }>;
  resolved: string[];
}

/**
 * Judges every screen by its tenant's rules and compares with the open alerts: a holding rule
 * without an open alert opens one, with one updates its detail when it changed; an open alert whose
 * rule is clear resolves. A rule without a verdict (stale health) changes nothing.
 */
export function planAlerts(
  screens: readonly ScreenFacts[],
  rulesOf: (tenantId: string) => ReadonlyMap<RuleKind, RuleSetting>,
  open: readonly OpenAlert[],
  now: Date,
): AlertPlan {
  const openByKey = new Map(open.map((alert) => [`${alert.screenId}/${alert.kind}`, alert]));
  const plan: AlertPlan = { opened: [], updated: [], resolved: [] };
  for (const facts of screens) {
    for (const [kind, verdict] of judgeScreen(facts, rulesOf(facts.tenantId), now)) {
      const current = openByKey.get(`${facts.screenId}/${kind}`);
      if (verdict.holds && !current) {
        plan.opened.push({ tenantId: facts.tenantId, screenId: facts.screenId, kind, detail: verdict.detail });
      } else if (verdict.holds && current && current.detail !== verdict.detail) {
        plan.updated.push({ id: current.id, detail: verdict.detail });
      } else if (!verdict.holds && current) {
        plan.resolved.push(current.id);
      }
    }
  }
  return plan;
}

/** An alert whose opening or resolution has not been notified yet. */
export interface PendingAlert {
  id: string;
  tenantId: string;
  screenId: string;
  screenName: string;
  kind: RuleKind;
  detail: string;
  openedAt: Date;
  resolvedAt: Date | null;
  openNotified: boolean;
  resolveNotified: boolean;
}

/** One alert in a notification's JSON (`alerts[]`). */
export interface NotifiedAlert {
  id: string;
  screen_id: string;
  screen_name: string;
  rule: RuleKind;
  event: "opened" | "resolved";
  detail: string;
  opened_at: string;
  resolved_at: string | null;
}

/**
 * A notification's JSON: the webhook body, and the e-mail's text. `id` is the same for every
 * channel and every attempt: receivers deduplicate on it (delivery is at least once).
 */
export interface NotificationPayload {
  id: string;
  /** One alert opened or resolved, or several together (`alerts.grouped`). */
  type: "alert.opened" | "alert.resolved" | "alerts.grouped";
  tenant_id: string;
  created_at: string;
  subject: string;
  /** How many alerts changed; `alerts` lists at most {@link maxListedAlerts} of them. */
  total: number;
  alerts: NotifiedAlert[];
}

/** A notification to put in the outbox, once per channel of its tenant. */
export interface PlannedNotification {
  tenantId: string;
  payload: NotificationPayload;
}

/** How notifications are gathered. */
export interface NotificationPolicy {
  /**
   * A tenant's changes wait this long from the first one, so screens that go offline together
   * (whose last heartbeats are up to an interval apart) land in one notification.
   */
  groupWindowMs: number;
  /** This many changes of one rule in the same direction make one grouped notification. */
  groupMinAlerts: number;
}

/** Most alerts listed in one notification; `total` still counts all. */
export const maxListedAlerts = 1000;

/** What {@link planNotifications} decided. */
export interface NotificationPlan {
  notifications: PlannedNotification[];
  /** Alerts whose opening is now notified (or never will be: it resolved before it was sent). */
  openNotified: string[];
  resolveNotified: string[];
}

/**
 * Turns pending changes into notifications, per tenant: after the group window, changes of one
 * rule and direction of at least `groupMinAlerts` alerts become one grouped notification, the
 * others one each; when that is more than the tenant's `budget` (notifications it may still send
 * this minute), everything becomes one grouped notification, and with no budget left the tenant
 * waits for the next evaluation. An alert that resolved before its opening was sent sends nothing.
 */
export function planNotifications(
  pending: readonly PendingAlert[],
  budgetOf: (tenantId: string) => number,
  now: Date,
  policy: NotificationPolicy,
  newId: () => string,
): NotificationPlan {
  const plan: NotificationPlan = { notifications: [], openNotified: [], resolveNotified: [] };
  const byTenant = new Map<string, Array<{ alert: PendingAlert; event: "opened" | "resolved"; at: Date }>>();
  for (const alert of pending) {
    if (!alert.openNotified && alert.resolvedAt) {
      // A flap shorter than the group window: nobody needs to hear of it.
      plan.openNotified.push(alert.id);
      plan.resolveNotified.push(alert.id);
      continue;
    }
    const event = alert.openNotified ? "resolved" : "opened";
    const at = event === "opened" ? alert.openedAt : (alert.resolvedAt as Date);
    const list = byTenant.get(alert.tenantId) ?? [];
    list.push({ alert, event, at });
    byTenant.set(alert.tenantId, list);
  }
  for (const [tenantId, events] of byTenant) {
    const first = Math.min(...events.map((e) => e.at.getTime()));
    if (now.getTime() - first < policy.groupWindowMs) continue;
    const budget = budgetOf(tenantId);
    if (budget < 1) continue;
    const groups = new Map<string, typeof events>();
    for (const e of events) {
      const key = `${e.event}/${e.alert.kind}`;
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    const batches: Array<typeof events> = [];
    for (const group of groups.values()) {
      if (group.length >= policy.groupMinAlerts) batches.push(group);
      else for (const e of group) batches.push([e]);
    }
    const sent = batches.length > budget ? [events] : batches;
    for (const batch of sent) {
      plan.notifications.push({ tenantId, payload: payloadOf(tenantId, batch, now, newId()) });
    }
    for (const e of events) (e.event === "opened" ? plan.openNotified : plan.resolveNotified).push(e.alert.id);
  }
  return plan;
}

const ruleLabels: Record<RuleKind, string> = {
  screen_offline: "screen offline",
  sync_failed: "sync failed",
  disk_full: "disk full",
  overheated: "overheated",
  clock_unsynced: "clock not synchronised",
  playback_errors: "playback errors",
  display_off: "display off during display hours",
};

function payloadOf(
  tenantId: string,
  batch: ReadonlyArray<{ alert: PendingAlert; event: "opened" | "resolved" }>,
  now: Date,
  id: string,
): NotificationPayload {
  const alerts = batch.slice(0, maxListedAlerts).map(
    ({ alert, event }): NotifiedAlert => ({
      id: alert.id,
      screen_id: alert.screenId,
      screen_name: alert.screenName,
      rule: alert.kind,
      event,
      detail: alert.detail,
      opened_at: alert.openedAt.toISOString(),
      resolved_at: alert.resolvedAt?.toISOString() ?? null,
    }),
  );
  const [only] = batch;
  let subject: string;
  let type: NotificationPayload["type"];
  if (batch.length === 1 && only) {
    type = only.event === "opened" ? "alert.opened" : "alert.resolved";
    subject = `${only.alert.screenName || only.alert.screenId}: ${ruleLabels[only.alert.kind]} ${only.event} (${only.alert.detail})`;
  } else {
    type = "alerts.grouped";
    const kinds = new Set(batch.map((e) => `${ruleLabels[e.alert.kind]} ${e.event}`));
    subject =
      kinds.size === 1
        ? `${batch.length} screens: ${[...kinds][0]}`
        : `${batch.length} alert changes (${[...kinds].join(", ")})`;
  }
  return {
    id,
    type,
    tenant_id: tenantId,
    created_at: now.toISOString(),
    subject: `[AVTech] ${subject}`,
    total: batch.length,
    alerts,
  };
}
