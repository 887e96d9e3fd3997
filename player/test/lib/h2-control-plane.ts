import { createServer, type Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/** Connect routes served over real HTTP/2 (h2c) on a loopback port. */
export interface H2ControlPlane {
  /** `http://127.0.0.1:<port>`, for control_plane_url. */
  readonly baseUrl: string;
  /**
   * Goes away as a killed process does: stops listening and destroys every session without a
   * GOAWAY, so the player's socket is reset mid-stream.
   */
  close(): Promise<void>;
}

/**
 * Serves `routes` (e.g. `FakeControlPlane.routes`) on port 0 over h2c, so a test drives the
 * player's real gRPC transport; the in-memory `createRouterTransport` cannot go away.
 */
export async function serveOverHttp2(routes: (router: ConnectRouter) => void): Promise<H2ControlPlane> {
  const sessions = new Set<Http2Session>();
  const server = createServer(connectNodeAdapter({ routes }));
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}
