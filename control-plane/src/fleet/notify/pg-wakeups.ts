import pg from "pg";
import type { Logger } from "pino";

/** Channel of the wake-ups; payload = comma-separated screen ids. */
export const wakeupChannel = "avtech_screen_wakeup";
/** PostgreSQL refuses payloads of 8000 bytes or more; stay clear of it. */
const maxPayloadBytes = 7900;

/** Options of {@link PgWakeups}. */
export interface PgWakeupsOptions {
  connectionString: string;
  /** Called with the screen ids of every notification (also this process's own). */
  onWake: (screenIds: string[]) => Promise<void> | void;
  /**
   * Called after (re)connecting and LISTENing: notifications sent while disconnected are lost,
   * so the caller re-reads pending work (e.g. LiveDelivery.deliverAll).
   */
  onResync: () => Promise<void> | void;
  logger: Logger;
  /** First reconnect delay; doubled up to 30 s, with full jitter. Default 500 ms. */
  reconnectMs?: number;
}

/**
 * Wake-ups between control-plane processes over PostgreSQL LISTEN/NOTIFY. One dedicated
 * connection listens (never inside a transaction); notify() uses a short-lived pool query.
 * Payloads carry screen ids only, split into several notifications when long.
 */
export class PgWakeups {
  readonly #options: PgWakeupsOptions;
  readonly #pool: pg.Pool;
  #listener: pg.Client | undefined;
  #stopped = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #backoffMs: number;

  constructor(options: PgWakeupsOptions) {
    this.#options = options;
    this.#backoffMs = options.reconnectMs ?? 500;
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: 2 });
  }

  /** Connects and LISTENs; resolves once listening (then calls onResync). */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** Sends the screen ids to every listening process. */
  async notify(screenIds: readonly string[]): Promise<void> {
    for (const payload of chunkPayloads(screenIds, maxPayloadBytes)) {
      await this.#pool.query("SELECT pg_notify($1, $2)", [wakeupChannel, payload]);
    }
  }

  /** The listening connection's backend pid (tests use it to simulate a dropped connection). */
  async listenerPid(): Promise<number | undefined> {
    const listener = this.#listener;
    if (!listener) return undefined;
    const { rows } = await listener.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    return rows[0]?.pid;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    await this.#listener?.end().catch(() => undefined);
    await this.#pool.end();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#options.connectionString });
    client.on("notification", (message) => {
      if (message.channel !== wakeupChannel || !message.payload) return;
      const ids = message.payload.split(",").filter(Boolean);
      Promise.resolve(this.#options.onWake(ids)).catch((error: unknown) =>
        this.#options.logger.error({ err: error }, "wake-up handling failed"),
      );
    });
    client.on("error", (error) => this.#lost(client, error));
    client.on("end", () => this.#lost(client, new Error("listener connection ended")));
    await client.connect();
    // LISTEN first, then re-read: anything notified from here on is heard, anything before is re-read.
    await client.query(`LISTEN ${wakeupChannel}`);
    this.#listener = client;
    this.#backoffMs = this.#options.reconnectMs ?? 500;
    await this.#options.onResync();
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#stopped || this.#listener !== client) return;
    this.#listener = undefined;
    this.#options.logger.warn({ err: error }, "LISTEN connection lost; reconnecting");
    client.end().catch(() => undefined);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const delay = Math.random() * this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, 30_000);
    this.#reconnectTimer = setTimeout(() => {
      this.#connect().catch((error: unknown) => {
        this.#options.logger.warn({ err: error }, "LISTEN reconnect failed");
        if (!this.#stopped) this.#scheduleReconnect();
      });
    }, delay);
  }
}

/** Splits ids into comma-separated payloads of at most `maxBytes` bytes. */
export function chunkPayloads(screenIds: readonly string[], maxBytes: number): string[] {
  const payloads: string[] = [];
  let current = "";
  for (const id of screenIds) {
    const candidate = current ? `${current},${id}` : id;
    if (Buffer.byteLength(candidate) > maxBytes && current) {
      payloads.push(current);
      current = id;
    } else {
      current = candidate;
    }
  }
  if (current) payloads.push(current);
  return payloads;
}
