import {
  type Health,
  type HealthCheckRequest,
  HealthCheckResponse_ServingStatus,
} from "@avtech/proto/gen/grpc/health/v1/health_pb.js";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";

/** The status of one service as the health protocol knows it. */
export type HealthStatus = "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

/**
 * Where the health service reads statuses from. `""` names the whole server. Anything the source
 * does not know reports `"SERVICE_UNKNOWN"`.
 */
export interface HealthStatusSource {
  /** Current status of `service` (`""` for the whole server). */
  status(service: string): HealthStatus;
  /** Calls `listener` after any status changes; returns the function that unsubscribes. */
  subscribe(listener: () => void): () => void;
}

/** A settable {@link HealthStatusSource}, driven by the server's readiness logic. */
export interface HealthState extends HealthStatusSource {
  /** Sets the status of `service`; `"SERVICE_UNKNOWN"` forgets it. Listeners run only on a change. */
  set(service: string, status: HealthStatus): void;
  /** Sets every known service (including `""`) to `status`, e.g. `"NOT_SERVING"` while draining. */
  setAll(status: "SERVING" | "NOT_SERVING"): void;
}

/**
 * Creates an in-memory {@link HealthState}. By default only the whole server (`""`) is known and
 * SERVING; pass `initial` to declare per-service statuses too.
 */
export function createHealthState(initial: Record<string, HealthStatus> = { "": "SERVING" }): HealthState {
  const statuses = new Map<string, HealthStatus>();
  const listeners = new Set<() => void>();
  for (const [service, status] of Object.entries(initial)) {
    if (status !== "SERVICE_UNKNOWN") statuses.set(service, status);
  }
  const notify = (): void => {
    for (const listener of [...listeners]) listener();
  };
  const apply = (service: string, status: HealthStatus): boolean => {
    if ((statuses.get(service) ?? "SERVICE_UNKNOWN") === status) return false;
    if (status === "SERVICE_UNKNOWN") statuses.delete(service);
    else statuses.set(service, status);
    return true;
  };
  return {
    status: (service) => statuses.get(service) ?? "SERVICE_UNKNOWN",
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    set(service, status) {
      if (apply(service, status)) notify();
    },
    setAll(status) {
      let changed = false;
      for (const service of [...statuses.keys()]) changed = apply(service, status) || changed;
      if (changed) notify();
    },
  };
}

const wireStatus: Record<HealthStatus, HealthCheckResponse_ServingStatus> = {
  SERVING: HealthCheckResponse_ServingStatus.SERVING,
  NOT_SERVING: HealthCheckResponse_ServingStatus.NOT_SERVING,
  SERVICE_UNKNOWN: HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN,
};

/**
 * Implements grpc.health.v1.Health over `source`, following
 * https://github.com/grpc/grpc/blob/master/doc/health-checking.md: Check answers NOT_FOUND for an
 * unknown service; Watch never fails for one (it reports SERVICE_UNKNOWN, so a client can wait
 * for a service that registers later) and streams every change until the client goes away or
 * the handler's signal aborts (connect-node's `shutdownSignal`).
 */
export function createHealthService(source: HealthStatusSource): ServiceImpl<typeof Health> {
  return {
    check(request: HealthCheckRequest) {
      const status = source.status(request.service);
      if (status === "SERVICE_UNKNOWN") {
        throw new ConnectError(
          `unknown service "${request.service}": ask for "" (the whole server) or a fully-qualified service name`,
          Code.NotFound,
        );
      }
      return { status: wireStatus[status] };
    },
    async *watch(request: HealthCheckRequest, context: HandlerContext) {
      const changes = watchChanges(source);
      try {
        let sent: HealthStatus | undefined;
        for (;;) {
          const status = source.status(request.service);
          // Listeners fire for any service; only a change of the watched one is news to the client.
          if (status !== sent) {
            sent = status;
            yield { status: wireStatus[status] };
          }
          await changes.next(context.signal);
          // A watch never ends cleanly: on shutdown it ends with the server's reason (e.g. an
          // UNAVAILABLE ConnectError given to connect-node's shutdownSignal), so probes fail over.
          context.signal.throwIfAborted();
        }
      } finally {
        changes.close();
      }
    },
  };
}

/**
 * Turns the source's callbacks into something a loop can await. It subscribes before the first
 * read, so a change between reading a status and waiting is never lost.
 */
function watchChanges(source: HealthStatusSource): { next(signal: AbortSignal): Promise<void>; close(): void } {
  let pending = false;
  let wake: (() => void) | undefined;
  const unsubscribe = source.subscribe(() => {
    pending = true;
    wake?.();
  });
  return {
    next(signal) {
      if (pending || signal.aborted) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const done = (): void => {
          wake = undefined;
          pending = false;
          signal.removeEventListener("abort", done);
          resolve();
        };
        wake = done;
        signal.addEventListener("abort", done);
      });
    },
    close: unsubscribe,
  };
}
