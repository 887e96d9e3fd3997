import {
  type Alert,
  type AlertRule,
  AlertRuleKind,
  AlertService,
  AlertState,
} from "@avtech/proto/gen/avtech/alert/v1/alert_pb.js";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, type ReactNode, useEffect, useState } from "react";
import { useApi } from "../api/api-context.tsx";
import { describeError } from "../api/errors.ts";
import { isAdmin } from "../api/session.ts";
import { formatAgo, formatDateTime } from "../ui/format.ts";
import { href } from "../ui/router.ts";

/** Rule names and threshold units as the console shows them (the server's ranges are in alert.proto). */
const ruleText: Record<AlertRuleKind, { label: string; unit?: string }> = {
  [AlertRuleKind.UNSPECIFIED]: { label: "—" },
  [AlertRuleKind.SCREEN_OFFLINE]: { label: "Screen offline", unit: "minutes" },
  [AlertRuleKind.SYNC_FAILED]: { label: "Sync failed" },
  [AlertRuleKind.DISK_FULL]: { label: "Disk full or over quota", unit: "% used" },
  [AlertRuleKind.OVERHEATED]: { label: "Overheated or throttled", unit: "°C" },
  [AlertRuleKind.CLOCK_UNSYNCED]: { label: "Clock not synchronised" },
  [AlertRuleKind.PLAYBACK_ERRORS]: { label: "Playback errors", unit: "mpv restarts per hour" },
  [AlertRuleKind.DISPLAY_OFF]: { label: "Display off during display hours" },
};

/**
 * Alerts of the tenant: open (or all) alerts, and for admins the rules, the notification channels
 * and the notifications that could not be delivered (dead letters). Everyone sees everything; the
 * server refuses changes to non-admins too.
 */
export function AlertsPage() {
  return (
    <section aria-labelledby="alerts-title">
      <div className="page-head">
        <h1 id="alerts-title">Alerts</h1>
      </div>
      <div className="cards">
        <Alerts />
        <Rules />
        <Channels />
        <DeadLetters />
      </div>
    </section>
  );
}

function Alerts() {
  const { principal } = useApi();
  const queryClient = useQueryClient();
  const [openOnly, setOpenOnly] = useState(true);
  const alerts = useQuery(AlertService.method.listAlerts, {
    state: openOnly ? AlertState.OPEN : AlertState.UNSPECIFIED,
    pageSize: 200,
  });
  const ack = useMutation(AlertService.method.acknowledgeAlert, { onSuccess: () => queryClient.invalidateQueries() });
  const error = alerts.error ?? ack.error;
  return (
    <div className="card">
      <h2>{openOnly ? "Open alerts" : "All alerts"}</h2>
      <label className="inline">
        <input type="checkbox" checked={openOnly} onChange={(e) => setOpenOnly(e.target.checked)} /> Open only
      </label>
      {error && (
        <p className="error" role="alert">
          {describeError(error)}
        </p>
      )}
      {alerts.data?.alerts.length === 0 && <p className="muted">Nothing to report.</p>}
      <ul className="plain-list" aria-label="Alerts">
        {alerts.data?.alerts.map((a) => (
          <AlertRow key={a.id} alert={a} showScreen>
            {isAdmin(principal) && !a.acknowledgedAt && (
              <button type="button" onClick={() => ack.mutate({ alertId: a.id })}>
                Acknowledge
              </button>
            )}
          </AlertRow>
        ))}
      </ul>
    </div>
  );
}

/** One alert: its state, rule, screen (unless the page is the screen's), what was measured and when. */
function AlertRow({ alert: a, showScreen, children }: { alert: Alert; showScreen: boolean; children?: ReactNode }) {
  return (
    <li className="user-row">
      <span className="grow">
        <span className={`badge ${a.state === AlertState.OPEN ? "tone-bad" : "tone-good"}`}>
          {a.state === AlertState.OPEN ? "Open" : "Resolved"}
        </span>{" "}
        <strong>{ruleText[a.rule].label}</strong>
        {showScreen && (
          <>
            {" "}
            on <a href={href("screens", a.screenId)}>{a.screenName || a.screenId}</a>
          </>
        )}
        <span className="muted small">
          {" "}
          · {a.detail} · opened {formatAgo(a.openedAt)}
          {a.resolvedAt && ` · resolved ${formatAgo(a.resolvedAt)}`}
          {a.acknowledgedAt && ` · acknowledged ${formatAgo(a.acknowledgedAt)}`}
        </span>
      </span>
      {children}
    </li>
  );
}

/** How often the fleet page's badge and a screen's alert history ask again (alerts are evaluated every 15 s). */
const alertRefreshMs = 30_000;

/** The fleet page's badge: how many alerts are open, linking to the Alerts page; nothing while none are. */
export function OpenAlertsBadge() {
  const open = useQuery(
    AlertService.method.listAlerts,
    { state: AlertState.OPEN, pageSize: 500 },
    { refetchInterval: alertRefreshMs },
  );
  if (open.error) return <span className="muted small">alerts unavailable: {describeError(open.error)}</span>;
  const count = open.data?.alerts.length ?? 0;
  if (count === 0) return null;
  const more = open.data?.nextPageToken ? "+" : "";
  return (
    <a href={href("alerts")} className="badge tone-bad">
      {`${count}${more} open ${count === 1 && !more ? "alert" : "alerts"}`}
    </a>
  );
}

/** A screen's alerts, open and resolved, newest first (the screen page). */
export function ScreenAlertHistory({ screenId }: { screenId: string }) {
  const list = useQuery(
    AlertService.method.listAlerts,
    { screenId, pageSize: 50 },
    { refetchInterval: alertRefreshMs },
  );
  return (
    <div className="card">
      <h2>Alerts</h2>
      {list.error && <p className="error">{describeError(list.error)}</p>}
      {list.data?.alerts.length === 0 && <p className="muted">No alert was ever raised for this screen.</p>}
      <ul className="plain-list" aria-label="Alerts of this screen">
        {list.data?.alerts.map((a) => (
          <AlertRow key={a.id} alert={a} showScreen={false} />
        ))}
      </ul>
    </div>
  );
}

function Rules() {
  const { principal } = useApi();
  const queryClient = useQueryClient();
  const rules = useQuery(AlertService.method.listAlertRules, {});
  const save = useMutation(AlertService.method.updateAlertRules, { onSuccess: () => queryClient.invalidateQueries() });
  const [draft, setDraft] = useState<AlertRule[]>([]);
  useEffect(() => setDraft(rules.data?.rules ?? []), [rules.data]);
  const admin = isAdmin(principal);
  const change = (kind: AlertRuleKind, patch: Partial<Pick<AlertRule, "enabled" | "threshold">>) =>
    setDraft((current) => current.map((r) => (r.kind === kind ? { ...r, ...patch } : r)));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({ rules: draft });
  };
  return (
    <form className="card form" onSubmit={submit} aria-label="Alert rules">
      <h2>Rules</h2>
      {(rules.error ?? save.error) && (
        <p className="error" role="alert">
          {describeError(rules.error ?? save.error)}
        </p>
      )}
      <ul className="plain-list">
        {draft.map((r) => {
          const text = ruleText[r.kind];
          return (
            <li key={r.kind} className="user-row">
              <label className="grow inline">
                <input
                  type="checkbox"
                  checked={r.enabled}
                  disabled={!admin}
                  onChange={(e) => change(r.kind, { enabled: e.target.checked })}
                />{" "}
                {text.label}
              </label>
              {text.unit && (
                <label className="inline">
                  <input
                    type="number"
                    value={r.threshold}
                    disabled={!admin}
                    aria-label={`${text.label} threshold (${text.unit})`}
                    onChange={(e) => change(r.kind, { threshold: Number(e.target.value) })}
                  />{" "}
                  <span className="muted small">{text.unit}</span>
                </label>
              )}
            </li>
          );
        })}
      </ul>
      {admin && (
        <div className="actions">
          <button type="submit" className="primary" disabled={save.isPending}>
            Save rules
          </button>
        </div>
      )}
    </form>
  );
}

function Channels() {
  const { principal } = useApi();
  const queryClient = useQueryClient();
  const done = { onSuccess: () => queryClient.invalidateQueries() };
  const channels = useQuery(AlertService.method.listChannels, {});
  const create = useMutation(AlertService.method.createChannel, done);
  const remove = useMutation(AlertService.method.deleteChannel, done);
  const [name, setName] = useState("");
  const [kind, setKind] = useState<"webhook" | "email">("webhook");
  const [where, setWhere] = useState("");
  const error = channels.error ?? create.error ?? remove.error;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const target =
      kind === "webhook"
        ? { case: "webhook" as const, value: { url: where.trim() } }
        : { case: "email" as const, value: { recipients: where.split(/[\s,;]+/).filter(Boolean) } };
    create.mutate(
      { name: name.trim(), target },
      {
        onSuccess: () => {
          setName("");
          setWhere("");
        },
      },
    );
  };
  return (
    <div className="card">
      <h2>Notification channels</h2>
      {error && (
        <p className="error" role="alert">
          {describeError(error)}
        </p>
      )}
      {create.data?.webhookSecret && (
        <div className="secret" role="status">
          <p>
            Copy the signing secret of “{create.data.channel?.name}” now; it is not shown again. Deliveries carry
            X-AVTech-Signature: t=…,v1=HMAC-SHA256(secret, "t.body").
          </p>
          <code>{create.data.webhookSecret}</code>
        </div>
      )}
      <ul className="plain-list" aria-label="Channels">
        {channels.data?.channels.map((c) => (
          <li key={c.id} className="user-row">
            <span className="grow">
              <strong>{c.name}</strong>{" "}
              <span className="muted small">
                {c.target.case === "webhook" ? c.target.value.url : c.target.value?.recipients.join(", ")}
              </span>
            </span>
            {isAdmin(principal) && (
              <button
                type="button"
                className="danger"
                onClick={() => window.confirm(`Delete ${c.name}?`) && remove.mutate({ channelId: c.id })}
              >
                Delete
              </button>
            )}
          </li>
        ))}
      </ul>
      {isAdmin(principal) && (
        <form className="form" onSubmit={submit} aria-label="New channel">
          <div className="row">
            <label>
              Name
              <input value={name} onChange={(e) => setName(e.target.value)} required />
            </label>
            <label>
              Kind
              <select value={kind} onChange={(e) => setKind(e.target.value as "webhook" | "email")}>
                <option value="webhook">Webhook</option>
                <option value="email">E-mail</option>
              </select>
            </label>
            <label>
              {kind === "webhook" ? "URL" : "Recipients"}
              <input value={where} onChange={(e) => setWhere(e.target.value)} required />
            </label>
          </div>
          <div className="actions">
            <button type="submit" className="primary" disabled={create.isPending}>
              Add channel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

function DeadLetters() {
  const { principal } = useApi();
  const queryClient = useQueryClient();
  const done = { onSuccess: () => queryClient.invalidateQueries() };
  const letters = useQuery(AlertService.method.listDeadLetters, {});
  const retry = useMutation(AlertService.method.retryDeadLetter, done);
  const discard = useMutation(AlertService.method.discardDeadLetter, done);
  const error = letters.error ?? retry.error ?? discard.error;
  return (
    <div className="card">
      <h2>Undelivered notifications</h2>
      {error && (
        <p className="error" role="alert">
          {describeError(error)}
        </p>
      )}
      {letters.data?.deadLetters.length === 0 && <p className="muted">Every notification was delivered.</p>}
      <ul className="plain-list" aria-label="Dead letters">
        {letters.data?.deadLetters.map((d) => (
          <li key={d.id} className="user-row">
            <span className="grow">
              <strong>{d.subject}</strong>
              <span className="muted small">
                {" "}
                · {d.attempts} attempts, last {formatDateTime(d.failedAt)}: {d.lastError}
              </span>
            </span>
            {isAdmin(principal) && (
              <>
                <button type="button" onClick={() => retry.mutate({ deadLetterId: d.id })}>
                  Retry
                </button>
                <button type="button" className="danger" onClick={() => discard.mutate({ deadLetterId: d.id })}>
                  Discard
                </button>
              </>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
