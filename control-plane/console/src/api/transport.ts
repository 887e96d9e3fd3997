import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { TokenStore } from "./session.ts";

/** What the API transport needs from its surroundings. */
export interface ApiTransportOptions {
  /** Origin of the control plane; the console is served by it, so `window.location.origin`. */
  baseUrl: string;
  tokens: TokenStore;
  /** Called when the server refuses the session (expired or revoked), so the UI can sign out. */
  onUnauthenticated: () => void;
}

/**
 * The gRPC-Web transport every RPC goes through. It adds `authorization: Bearer <token>` when a
 * session exists, and reports UNAUTHENTICATED answers (except from Login itself, whose refusal
 * means "wrong credentials", not "session over").
 */
export function createApiTransport(options: ApiTransportOptions): Transport {
  const auth: Interceptor = (next) => async (req) => {
    const token = options.tokens.get();
    if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (err) {
      if (
        err instanceof ConnectError &&
        err.code === Code.Unauthenticated &&
        req.method.name !== "Login" &&
        token !== undefined
      ) {
        options.onUnauthenticated();
      }
      throw err;
    }
  };
  return createGrpcWebTransport({ baseUrl: options.baseUrl, interceptors: [auth] });
}
