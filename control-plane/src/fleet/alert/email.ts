import nodemailer from "nodemailer";

/** Sends one plain-text e-mail; rejects with the SMTP server's reply when it refuses. */
export interface Mailer {
  send(message: { to: readonly string[]; subject: string; text: string }): Promise<void>;
  close(): void;
}

/** Where alert e-mail goes: the `alerts.smtp` settings. */
export interface SmtpSettings {
  /** smtp://user:pass@host:port or smtps://… (nodemailer's connection URL). */
  url: string;
  /** The From address. */
  from: string;
  /** Connection, greeting and socket timeouts. */
  timeoutMs: number;
}

/** A {@link Mailer} on nodemailer's SMTP transport (one pooled connection per server). */
export function createSmtpMailer(settings: SmtpSettings): Mailer {
  const transport = nodemailer.createTransport({
    url: settings.url,
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
  });
  return {
    async send(message) {
      await transport.sendMail({
        from: settings.from,
        to: [...message.to],
        subject: message.subject,
        text: message.text,
      });
    },
    close: () => transport.close(),
  };
}

/** At most this many recipients per e-mail channel. */
export const maxRecipients = 20;

const address = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;

/** What is wrong with a recipient list (undefined: nothing). */
export function recipientsProblem(recipients: readonly string[]): string | undefined {
  if (recipients.length === 0 || recipients.length > maxRecipients) {
    return `email.recipients must list 1..${maxRecipients} addresses (got ${recipients.length})`;
  }
  const bad = recipients.filter((r) => !address.test(r));
  if (bad.length > 0) return `email.recipients: not an e-mail address: ${bad.join(", ")}`;
  return undefined;
}
