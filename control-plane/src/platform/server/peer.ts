import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { type ContextValues, createContextKey, createContextValues, type HandlerContext } from "@connectrpc/connect";

/** The client's address, set by the Node adapter's `contextValues` (see {@link peerContextValues}). */
export const peerAddressKey = createContextKey<string>("", { description: "client IP address" });

/**
 * `contextValues` for `connectNodeAdapter`: records the peer address for rate limits and the
 * fleet view. Behind a trusted proxy the wiring should read its forwarded header instead.
 */
export function peerContextValues(req: IncomingMessage | Http2ServerRequest): ContextValues {
  return createContextValues().set(peerAddressKey, req.socket.remoteAddress ?? "");
}

/** The caller's address, or "unknown" when the adapter did not record it. */
export function peerAddress(context: HandlerContext): string {
  return context.values.get(peerAddressKey) || "unknown";
}
