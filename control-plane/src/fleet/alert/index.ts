export type { RetryPolicy, Sender, SenderDeps, Senders } from "./delivery.ts";
export { createSenders, DeliveryError, retryDelayMs } from "./delivery.ts";
export type { Mailer, SmtpSettings } from "./email.ts";
export { createSmtpMailer, recipientsProblem } from "./email.ts";
export type { AlertEngineDeps, AlertEngineSettings, DeliveryResult } from "./engine.ts";
export { AlertEngine } from "./engine.ts";
export type { AlertMetrics } from "./metrics.ts";
export { createAlertMetrics } from "./metrics.ts";
export { PgAlertStore } from "./pg-alert-store.ts";
export type {
  AlertPlan,
  NotificationPayload,
  NotificationPlan,
  NotificationPolicy,
  NotifiedAlert,
  OpenAlert,
  PendingAlert,
  PlannedNotification,
} from "./plan.ts";
export { maxListedAlerts, planAlerts, planNotifications } from "./plan.ts";
export type {
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
export type { RuleKind, RuleSetting, ScreenFacts, Verdict } from "./rules.ts";
export {
  defaultRules,
  displayShouldBeOn,
  isOnline,
  judgeScreen,
  ruleKinds,
  thresholdProblem,
  thresholds,
} from "./rules.ts";
export type { AlertServiceDeps } from "./service.ts";
export { createAlertService } from "./service.ts";
export {
  deliveryHeader,
  newWebhookSecret,
  signatureHeader,
  signWebhook,
  verifyWebhookSignature,
  webhookUrlProblem,
} from "./webhook.ts";
