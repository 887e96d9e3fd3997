import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { type ContextValues, createContextKey, createContextValues, type HandlerContext } from "@connectrpc/connect";

/** The client's address, set by the Node adapter's `contextValues` (see {@link createPeerContextValues}). */
export const peerAddressKey = createContextKey<string>("", { description: "client IP address" });

type PeerRequest = IncomingMessage | Http2ServerRequest;

/**
 * `contextValues` for `connectNodeAdapter`: records the client address for rate limits and the
 * fleet view. A connection from one of `trustedProxies` (the load balancer, `listen.trustedProxies`)
 * is a proxied one: the address is then the one its X-Forwarded-For names (see {@link clientAddress}).
 */
export function createPeerContextValues(trustedProxies: readonly string[]): (req: PeerRequest) => ContextValues {
  const trusted = new Set(trustedProxies.map(plainAddress));
  return (req) => createContextValues().set(peerAddressKey, clientAddress(req, trusted));
}

/** With no trusted proxy: the socket's address, whatever headers say. */
export const peerContextValues = createPeerContextValues([]);

/**
 * The socket's address, unless it is a trusted proxy: then the right-most X-Forwarded-For entry
 * that is not a trusted proxy itself. Entries to the left of it were written by the client and
 * are not believed (a client could name any address there to dodge a per-address limit).
 */
export function clientAddress(req: PeerRequest, trusted: ReadonlySet<string>): string {
  const socketAddress = req.socket.remoteAddress ?? "";
  if (!trusted.has(plainAddress(socketAddress))) return socketAddress;
  const header = req.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((hop) => plainAddress(hop.trim()))
    .filter((hop) => hop !== "");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!trusted.has(hop)) return hop;
  }
  return hops[0] ?? socketAddress;
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) and `10.0.0.1` are one address. */
function plainAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice("::ffff:".length) : address;
}

/** The caller's address, or "unknown" when the adapter did not record it. */
export function peerAddress(context: HandlerContext): string {
  return context.values.get(peerAddressKey) || "unknown";
}
