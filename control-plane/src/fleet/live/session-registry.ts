import { AsyncQueue } from "@avtech/io";
import type { ConnectResponse } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";

/** One screen's open stream, as the process holding it sees it. */
export interface ScreenSession {
  readonly screenId: string;
  readonly tenantId: string;
  /** Messages waiting to be written to the screen. */
  readonly outbox: AsyncQueue<ConnectResponse>;
}

/**
 * The screens whose streams this process holds. One stream per screen: attaching a second
 * session for the same screen ends the first with ABORTED, so a reconnecting screen never
 * leaves a stale stream receiving its messages.
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, ScreenSession>();

  /** Registers a new stream for `screenId`; returns the session and its detach function. */
  attach(screenId: string, tenantId: string): { session: ScreenSession; detach: () => void } {
    this.#sessions
      .get(screenId)
      ?.outbox.fail(new ConnectError("replaced by a newer connection of the same screen", Code.Aborted));
    const session: ScreenSession = { screenId, tenantId, outbox: new AsyncQueue() };
    this.#sessions.set(screenId, session);
    const detach = () => {
      if (this.#sessions.get(screenId) === session) this.#sessions.delete(screenId);
    };
    return { session, detach };
  }

  /** Queues a message for the screen if this process holds its stream; false otherwise. */
  send(screenId: string, message: ConnectResponse, coalesceKey?: string): boolean {
    const session = this.#sessions.get(screenId);
    if (!session) return false;
    session.outbox.push(message, coalesceKey);
    return true;
  }

  /** Ends the screen's stream with `error` (revoked token, deleted screen). */
  disconnect(screenId: string, error: ConnectError): boolean {
    const session = this.#sessions.get(screenId);
    if (!session) return false;
    this.#sessions.delete(screenId);
    session.outbox.fail(error);
    return true;
  }

  /** True when this process holds the screen's stream. */
  holds(screenId: string): boolean {
    return this.#sessions.has(screenId);
  }

  /** Number of streams held. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Ends every stream (graceful shutdown: screens reconnect elsewhere). */
  closeAll(): void {
    for (const session of this.#sessions.values()) {
      session.outbox.fail(new ConnectError("control plane is shutting down; reconnect", Code.Unavailable));
    }
    this.#sessions.clear();
  }
}
