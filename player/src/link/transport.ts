import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

/** Options of {@link createControlPlaneTransport}. */
export interface ControlPlaneTransportOptions {
  baseUrl: string;
  /** PEM of a private CA; default the system's roots. */
  ca?: string | undefined;
  /** HTTP/2 PING interval; default 30 000 ms (connect-node's default is off). */
  pingIntervalMs?: number;
}

/**
 * The gRPC (HTTP/2) transport to the control plane. PINGs are on — also on idle connections —
 * because a NAT or LTE router silently drops an idle TCP flow, and without them the stream
 * would look alive until the next heartbeat write fails minutes later.
 */
export function createControlPlaneTransport(options: ControlPlaneTransportOptions): Transport {
  return createGrpcTransport({
    baseUrl: options.baseUrl,
    pingIntervalMs: options.pingIntervalMs ?? 30_000,
    pingIdleConnection: true,
    pingTimeoutMs: 15_000,
    readMaxBytes: 16 * 1024 * 1024,
    ...(options.ca ? { nodeOptions: { ca: options.ca } } : {}),
  });
}
