import type { Http2SecureServer, Http2Server, ServerHttp2Session } from "node:http2";

/** Timing of {@link startPingSweep}. */
export interface PingSweepOptions {
  /** How often every session is pinged; default 20 s. */
  intervalMs?: number;
  /** A session whose ping is not answered within this is destroyed; default 20 s. */
  timeoutMs?: number;
}

/**
 * Pings every HTTP/2 session of `server` periodically and destroys those that do not answer, so
 * a screen that vanished (power cut, NAT dropped) is found within intervalMs + timeoutMs (40 s by
 * default, inside the 60 s goal) and its stream ends. connect-node's server sends no pings and
 * Node keeps dead sessions otherwise. Returns a function that stops the sweep.
 */
export function startPingSweep(server: Http2Server | Http2SecureServer, options: PingSweepOptions = {}): () => void {
  const intervalMs = options.intervalMs ?? 20_000;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const sessions = new Set<ServerHttp2Session>();
  const onSession = (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  };
  server.on("session", onSession);
  const timer = setInterval(() => {
    for (const session of sessions) {
      if (session.destroyed || session.closed) continue;
      const deadline = setTimeout(() => session.destroy(), timeoutMs);
      deadline.unref();
      const sent = session.ping((error) => {
        clearTimeout(deadline);
        if (error && !session.destroyed) session.destroy();
      });
      if (!sent) clearTimeout(deadline);
    }
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    server.off("session", onSession);
  };
}
