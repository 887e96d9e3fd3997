import { randomUUID } from "node:crypto";
import {
  type Alert,
  AlertRuleKind,
  AlertRuleSchema,
  AlertSchema,
  type AlertService,
  AlertState,
  type Channel,
  ChannelSchema,
  type AlertRule as ProtoRule,
} from "@avtech/proto/gen/avtech/alert/v1/alert_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { noteAudit } from "../../platform/audit/index.ts";
import type { Clock } from "../../platform/clock.ts";
import { type PrincipalOf, readers, requireRole } from "../fleet/access.ts";
import type { Principal } from "../fleet/ports.ts";
import { recipientsProblem } from "./email.ts";
import type { AlertCursor, AlertRecord, AlertStore, ChannelRecord, ChannelTarget } from "./ports.ts";
import { type RuleKind, type RuleSetting, ruleKinds, thresholdProblem } from "./rules.ts";
import { newWebhookSecret, webhookUrlProblem } from "./webhook.ts";

/** What {@link createAlertService} uses. */
export interface AlertServiceDeps {
  store: AlertStore;
  clock: Clock;
  principalOf: PrincipalOf;
  /** False when `alerts.smtp.url` is unset: e-mail channels are refused (FAILED_PRECONDITION). */
  emailConfigured: boolean;
}

const admins: Principal["role"][] = ["admin"];
const defaultPageSize = 100;
const maxPageSize = 500;
const maxDeadLetters = 500;

const kindFromProto = (kind: AlertRuleKind): RuleKind | undefined => ruleKinds[kind - 1];
const kindToProto = (kind: RuleKind): AlertRuleKind => (ruleKinds.indexOf(kind) + 1) as AlertRuleKind;

const invalid = (message: string) => new ConnectError(message, Code.InvalidArgument);
/** The one answer for an id that is not the caller's, whether it exists elsewhere or not at all. */
const notFound = (what: string, id: string) => new ConnectError(`${what} ${id} is not in your tenant`, Code.NotFound);

function alertMessage(alert: AlertRecord): Alert {
  return create(AlertSchema, {
    id: alert.id,
    screenId: alert.screenId,
    screenName: alert.screenName,
    rule: kindToProto(alert.kind),
    state: alert.resolvedAt ? AlertState.RESOLVED : AlertState.OPEN,
    detail: alert.detail,
    openedAt: timestampFromDate(alert.openedAt),
    updatedAt: timestampFromDate(alert.updatedAt),
    resolvedAt: alert.resolvedAt ? timestampFromDate(alert.resolvedAt) : undefined,
    acknowledgedAt: alert.acknowledgedAt ? timestampFromDate(alert.acknowledgedAt) : undefined,
    acknowledgedBy: alert.acknowledgedBy,
  });
}

function channelMessage(channel: ChannelRecord): Channel {
  return create(ChannelSchema, {
    id: channel.id,
    name: channel.name,
    target:
      channel.target.kind === "webhook"
        ? { case: "webhook", value: { url: channel.target.url } }
        : { case: "email", value: { recipients: channel.target.recipients } },
    createdAt: timestampFromDate(channel.createdAt),
  });
}

const ruleMessages = (rules: Map<RuleKind, RuleSetting>): ProtoRule[] =>
  ruleKinds.map((kind) => {
    const rule = rules.get(kind) ?? { kind, enabled: true, threshold: 0 };
    return create(AlertRuleSchema, { kind: kindToProto(kind), enabled: rule.enabled, threshold: rule.threshold });
  });

function pageToken(last: AlertRecord | undefined): string {
  if (!last) return "";
  return Buffer.from(JSON.stringify({ o: last.openedAt.toISOString(), i: last.id })).toString("base64url");
}

function cursorOf(token: string): AlertCursor | undefined {
  if (token === "") return undefined;
  try {
    const { o, i } = JSON.parse(Buffer.from(token, "base64url").toString()) as { o: unknown; i: unknown };
    const openedAt = new Date(String(o));
    if (typeof i === "string" && /^[0-9a-f-]{36}$/.test(i) && !Number.isNaN(openedAt.getTime())) {
      return { openedAt, id: i };
    }
  } catch {
    // falls through to the error below
  }
  throw invalid("page_token is not one this server issued: start again without it");
}

/** AlertService: reads for every role of the caller's tenant, changes for its admins. */
export function createAlertService(deps: AlertServiceDeps): ServiceImpl<typeof AlertService> {
  const { store, clock, principalOf } = deps;
  const alertOf = async (tenantId: string, id: string) => {
    const alert = await store.getAlert(tenantId, id);
    if (!alert) throw notFound("alert", id);
    return alert;
  };
  return {
    async listAlerts(request, context) {
      const { tenantId } = requireRole(principalOf, context, readers);
      if (request.screenId !== "" && !(await store.screenExists(tenantId, request.screenId))) {
        throw notFound("screen", request.screenId);
      }
      const kind = request.rule === AlertRuleKind.UNSPECIFIED ? undefined : kindFromProto(request.rule);
      if (request.rule !== AlertRuleKind.UNSPECIFIED && !kind) throw invalid(`rule ${request.rule} is not a rule`);
      const state =
        request.state === AlertState.OPEN ? "open" : request.state === AlertState.RESOLVED ? "resolved" : undefined;
      const size = Math.min(request.pageSize || defaultPageSize, maxPageSize);
      const rows = await store.listAlerts(
        tenantId,
        { screenId: request.screenId || undefined, kind, state },
        size + 1,
        cursorOf(request.pageToken),
      );
      const page = rows.slice(0, size);
      return { alerts: page.map(alertMessage), nextPageToken: rows.length > size ? pageToken(page.at(-1)) : "" };
    },

    async getAlert(request, context) {
      const { tenantId } = requireRole(principalOf, context, readers);
      return { alert: alertMessage(await alertOf(tenantId, request.alertId)) };
    },

    async acknowledgeAlert(request, context) {
      const { tenantId, actorId } = requireRole(principalOf, context, admins);
      noteAudit(context, { subjectType: "alert", subjectId: request.alertId });
      const before = await alertOf(tenantId, request.alertId);
      const after = await store.acknowledge(tenantId, request.alertId, actorId, clock.now());
      if (!after) throw notFound("alert", request.alertId);
      noteAudit(context, {
        before: { acknowledgedAt: before.acknowledgedAt },
        after: { acknowledgedAt: after.acknowledgedAt, acknowledgedBy: after.acknowledgedBy },
      });
      return { alert: alertMessage(after) };
    },

    async listAlertRules(_request, context) {
      const { tenantId } = requireRole(principalOf, context, readers);
      return { rules: ruleMessages(await store.rules(tenantId)) };
    },

    async updateAlertRules(request, context) {
      const { tenantId } = requireRole(principalOf, context, admins);
      noteAudit(context, { subjectType: "alert_rules", subjectId: tenantId });
      const current = await store.rules(tenantId);
      const problems: string[] = [];
      const changed: RuleSetting[] = [];
      const seen = new Set<RuleKind>();
      for (const [index, rule] of request.rules.entries()) {
        const kind = kindFromProto(rule.kind);
        if (!kind) {
          problems.push(`rules[${index}].kind must be one of the ALERT_RULE_KIND_ values, not ${rule.kind}`);
          continue;
        }
        if (seen.has(kind)) problems.push(`rules[${index}]: rule ${kind} is listed twice`);
        seen.add(kind);
        const problem = thresholdProblem(kind, rule.threshold);
        if (problem) problems.push(`rules[${index}]: ${problem}`);
        const threshold = rule.threshold === 0 ? (current.get(kind)?.threshold ?? 0) : rule.threshold;
        changed.push({ kind, enabled: rule.enabled, threshold });
      }
      if (request.rules.length === 0) problems.push("rules is empty: list the rules to change");
      if (problems.length > 0) throw invalid(problems.join("; "));
      noteAudit(context, { before: Object.fromEntries(current) });
      await store.setRules(tenantId, changed, clock.now());
      const after = await store.rules(tenantId);
      noteAudit(context, { after: Object.fromEntries(after) });
      return { rules: ruleMessages(after) };
    },

    async createChannel(request, context) {
      const { tenantId } = requireRole(principalOf, context, admins);
      noteAudit(context, { subjectType: "alert_channel" });
      const name = request.name.trim();
      if (name.length === 0 || name.length > 200) throw invalid("name must be 1..200 characters");
      let target: ChannelTarget;
      switch (request.target.case) {
        case "webhook": {
          const problem = webhookUrlProblem(request.target.value.url);
          if (problem) throw invalid(problem);
          target = { kind: "webhook", url: request.target.value.url };
          break;
        }
        case "email": {
          const recipients = request.target.value.recipients.map((r) => r.trim());
          const problem = recipientsProblem(recipients);
          if (problem) throw invalid(problem);
          if (!deps.emailConfigured) {
            throw new ConnectError(
              "this control plane has no SMTP server: its operator must set alerts.smtp.url (AVTECH_SMTP_URL)",
              Code.FailedPrecondition,
            );
          }
          target = { kind: "email", recipients };
          break;
        }
        case undefined:
          throw invalid("set webhook (with a url) or email (with recipients)");
      }
      const channel: ChannelRecord = { id: randomUUID(), tenantId, name, target, createdAt: clock.now() };
      const secret = target.kind === "webhook" ? newWebhookSecret() : "";
      noteAudit(context, { subjectId: channel.id });
      await store.createChannel(channel, secret);
      noteAudit(context, { after: { name, target } });
      return { channel: channelMessage(channel), webhookSecret: secret };
    },

    async listChannels(_request, context) {
      const { tenantId } = requireRole(principalOf, context, readers);
      return { channels: (await store.listChannels(tenantId)).map(channelMessage) };
    },

    async deleteChannel(request, context) {
      const { tenantId } = requireRole(principalOf, context, admins);
      noteAudit(context, { subjectType: "alert_channel", subjectId: request.channelId });
      const deleted = await store.deleteChannel(tenantId, request.channelId);
      if (!deleted) throw notFound("channel", request.channelId);
      noteAudit(context, { before: { name: deleted.name, target: deleted.target } });
      return {};
    },

    async listDeadLetters(_request, context) {
      const { tenantId } = requireRole(principalOf, context, readers);
      const letters = await store.listDeadLetters(tenantId, maxDeadLetters);
      return {
        deadLetters: letters.map((letter) => ({
          id: letter.id,
          channelId: letter.channelId,
          subject: letter.subject,
          attempts: letter.attempts,
          lastError: letter.lastError,
          createdAt: timestampFromDate(letter.createdAt),
          failedAt: timestampFromDate(letter.failedAt),
        })),
      };
    },

    async retryDeadLetter(request, context) {
      const { tenantId } = requireRole(principalOf, context, admins);
      noteAudit(context, { subjectType: "alert_dead_letter", subjectId: request.deadLetterId });
      if (!(await store.retryDeadLetter(tenantId, request.deadLetterId, clock.now()))) {
        throw notFound("dead letter", request.deadLetterId);
      }
      return {};
    },

    async discardDeadLetter(request, context) {
      const { tenantId } = requireRole(principalOf, context, admins);
      noteAudit(context, { subjectType: "alert_dead_letter", subjectId: request.deadLetterId });
      if (!(await store.discardDeadLetter(tenantId, request.deadLetterId))) {
        throw notFound("dead letter", request.deadLetterId);
      }
      return {};
    },
  };
}
