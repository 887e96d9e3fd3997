import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import type { FleetStore } from "./fleet-store.ts";

/** Where the live link stands, for the status pill in the header. */
export type WatchState = "connecting" | "live" | "reconnecting" | "stopped";

/**
 * Keeps a WatchFleet stream open and feeds `store`, reconnecting with capped exponential backoff
 * (1 s doubling to 30 s) when the stream breaks. It stops for good on UNAUTHENTICATED or
 * PERMISSION_DENIED (the transport signs out) and when `signal` aborts.
 */
export async function watchFleet(
  transport: Transport,
  store: FleetStore,
  onState: (state: WatchState) => void,
  signal: AbortSignal,
): Promise<void> {
  const client = createClient(FleetService, transport);
  let delayMs = 1000;
  while (!signal.aborted) {
    onState(delayMs === 1000 ? "connecting" : "reconnecting");
    try {
      // No timeout: the stream is meant to stay open; the server's keep-alives prove it lives.
      for await (const event of client.watchFleet({}, { signal, timeoutMs: 0 })) {
        if (event.event.case === "snapshot") {
          onState("live");
          delayMs = 1000;
        }
        store.apply(event);
      }
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (signal.aborted || code === Code.Unauthenticated || code === Code.PermissionDenied) break;
    }
    if (signal.aborted) break;
    onState("reconnecting");
    await sleep(delayMs, signal);
    delayMs = Math.min(delayMs * 2, 30_000);
  }
  onState("stopped");
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
