import type { Clock } from "../../platform/clock.ts";
import type { Mailer } from "./email.ts";
import type { NotificationPayload } from "./plan.ts";
import type { ChannelTarget, OutboxItem } from "./ports.ts";
import { deliveryHeader, signatureHeader, signWebhook } from "./webhook.ts";

/** A failed delivery attempt, with what the admin sees as the dead letter's `last_error`. */
export class DeliveryError extends Error {
  override name = "DeliveryError";
}

/** Sends one outbox item; rejects (with the reason) when the channel did not take it. */
export type Sender = (item: OutboxItem, signal: AbortSignal) => Promise<void>;

/** One sender per channel kind: a kind without one is a compile error. */
export type Senders = { [K in ChannelTarget["kind"]]: Sender };

/** What the real senders use. */
export interface SenderDeps {
  clock: Clock;
  /** Undefined when `alerts.smtp.url` is not set: e-mail deliveries fail (and end as dead letters). */
  mailer: Mailer | undefined;
  /** Default global fetch. */
  fetch?: typeof fetch;
}

/**
 * Webhook: POST of the payload as JSON, signed (./webhook.ts), any 2xx is delivered; redirects are
 * not followed (a 3xx is a failure: the admin should fix the URL). E-mail: the subject and the
 * payload as indented JSON, through the configured SMTP server.
 */
export function createSenders(deps: SenderDeps): Senders {
  const send = deps.fetch ?? fetch;
  return {
    async webhook(item, signal) {
      if (item.target.kind !== "webhook") throw new DeliveryError("not a webhook channel");
      const body = JSON.stringify(item.payload);
      const timestamp = Math.floor(deps.clock.now().getTime() / 1000);
      let response: Response;
      try {
        response = await send(item.target.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "AVTech-Alerts/1",
            [signatureHeader]: signWebhook(item.secret, timestamp, body),
            [deliveryHeader]: item.payload.id,
          },
          body,
          redirect: "manual",
          signal,
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
        throw new DeliveryError(`POST ${item.target.url} failed: ${cause}`, { cause: error });
      }
      // The body is not needed; reading it frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status < 200 || response.status > 299) {
        throw new DeliveryError(`POST ${item.target.url} answered HTTP ${response.status}`);
      }
    },
    async email(item) {
      if (item.target.kind !== "email") throw new DeliveryError("not an e-mail channel");
      if (!deps.mailer) {
        throw new DeliveryError("no SMTP server configured: set alerts.smtp.url (AVTECH_SMTP_URL)");
      }
      try {
        await deps.mailer.send({
          to: item.target.recipients,
          subject: item.payload.subject,
          text: mailText(item.payload),
        });
      } catch (error) {
        throw new DeliveryError(`SMTP: ${(error as Error).message}`, { cause: error });
      }
    },
  };
}

function mailText(payload: NotificationPayload): string {
  const lines = payload.alerts.map(
    (a) => `- ${a.screen_name} [screen ${a.screen_id}]: ${a.rule} ${a.event} (${a.detail}), opened ${a.opened_at}`,
  );
  const more = payload.total > payload.alerts.length ? [`… and ${payload.total - payload.alerts.length} more`] : [];
  return [payload.subject, "", ...lines, ...more, "", "Notification id:", payload.id, ""].join("\n");
}

/** Retry timing of failed deliveries. */
export interface RetryPolicy {
  /** Attempts before a notification becomes a dead letter. */
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

/**
 * The delay after failed attempt `attempt` (1-based): full jitter, a random time between 0 and
 * min(maxMs, baseMs × 2^(attempt−1)), so receivers that come back are not hit by every control
 * plane's retries at once.
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * cap);
}
