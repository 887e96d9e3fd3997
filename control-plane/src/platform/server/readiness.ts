import type { MikroORM } from "@mikro-orm/postgresql";
import { createHealthState, type HealthState } from "../grpc-std/index.ts";

/** Whether the server can do its work (the database answers), shared by /readyz and grpc.health.v1. */
export interface Readiness {
  /** Checks the database now, updates the health state and returns the result. */
  check(): Promise<boolean>;
  /** The health state grpc.health.v1 reads ("" = whole server, plus each of `services`). */
  health: HealthState;
  /** Marks everything NOT_SERVING (draining at shutdown) and stops periodic checks. */
  drain(): void;
  /** Stops periodic checks. */
  stop(): void;
}

/** Readiness backed by `select 1`, re-checked every `intervalMs` so health Watch sees changes. */
export function createReadiness(orm: MikroORM, services: readonly string[], intervalMs = 5000): Readiness {
  const health = createHealthState(Object.fromEntries(["", ...services].map((s) => [s, "NOT_SERVING" as const])));
  let draining = false;
  const check = async (): Promise<boolean> => {
    let ok = false;
    try {
      await orm.em.getConnection().execute("select 1");
      ok = true;
    } catch {
      ok = false;
    }
    if (!draining) health.setAll(ok ? "SERVING" : "NOT_SERVING");
    return ok && !draining;
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return {
    check,
    health,
    drain() {
      draining = true;
      clearInterval(timer);
      health.setAll("NOT_SERVING");
    },
    stop: () => clearInterval(timer),
  };
}
