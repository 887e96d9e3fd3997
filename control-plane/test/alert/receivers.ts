import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

/** One request the webhook receiver got. */
export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP server standing in for a customer's webhook receiver: it records every request and
 * answers each with the next status of `statuses` (the last one repeats), or, for "hold", keeps
 * the request open until {@link WebhookReceiver.release} is called.
 */
export interface WebhookReceiver {
  url: string;
  received: ReceivedRequest[];
  /** Sets the answers of the following requests. */
  answer(...statuses: Array<number | "hold">): void;
  /** Answers held requests with `status`. */
  release(status: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  let statuses: Array<number | "hold"> = [200];
  const held: Array<(status: number) => void> = [];
  const received: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      const status = statuses.length > 1 ? (statuses.shift() as number | "hold") : (statuses[0] ?? 200);
      const reply = (code: number) => res.writeHead(code, { "content-type": "text/plain" }).end(`status ${code}`);
      if (status === "hold") held.push(reply);
      else reply(status);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/avtech`,
    received,
    answer: (...next) => {
      statuses = next;
    },
    release: (status) => {
      for (const reply of held.splice(0)) reply(status);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One message the SMTP server accepted. */
export interface ReceivedMail {
  from: string;
  to: string[];
  data: string;
}

/** A real SMTP server (smtp-server) on a free port, without TLS or auth, keeping what it accepts. */
export interface MailSink {
  url: string;
  mails: ReceivedMail[];
  close(): Promise<void>;
}

export async function startMailSink(): Promise<MailSink> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
