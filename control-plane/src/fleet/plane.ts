import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type Clock, systemClock } from "../clock.ts";
import { LiveDelivery } from "../device/delivery.ts";
import { createDeviceService } from "../device/service.ts";
import { SessionRegistry } from "../live/index.ts";
import { createPublishService } from "../publish/service.ts";
import { type RateLimitConfig, RequestLimiter } from "../rate-limit/index.ts";
import type { PrincipalOf } from "./access.ts";
import { FleetBroadcaster } from "./broadcaster.ts";
import { defaultHealthRetentionMs } from "./health-history.ts";
import { createFleetMetrics } from "./metrics.ts";
import { Presence } from "./presence.ts";
import { defaultFleetConfig, type FleetConfig, type FleetRuntime, type FleetStores } from "./runtime.ts";
import { createFleetService } from "./service.ts";
import { loadScreenViews } from "./view.ts";

/** Carries wake-ups to the other control-plane processes (LISTEN/NOTIFY); see src/notify. */
export interface WakeupBus {
  notify(screenIds: readonly string[]): Promise<void>;
}

/** What {@link createFleetPlane} needs; everything with a side effect is passed in. */
export interface FleetPlaneDeps {
  stores: FleetStores;
  logger: Logger;
  metricsRegistry: Registry;
  /** Default {@link systemClock}. */
  clock?: Clock;
  config?: Partial<FleetConfig>;
  rateLimits?: RateLimitConfig;
  /** Absent with a single process. */
  bus?: WakeupBus;
  /** Live-view batching; default 250 ms. */
  broadcastFlushMs?: number;
}

/** The fleet/publish/device part of one control-plane process. */
export interface FleetPlane {
  runtime: FleetRuntime;
  /** The three implementations, for a server that registers services itself (ServerDeps.services). */
  services: {
    device: ServiceImpl<typeof DeviceService>;
    fleet: ServiceImpl<typeof FleetService>;
    publish: ServiceImpl<typeof PublishService>;
  };
  /** Registers DeviceService, FleetService and PublishService on a Connect router. */
  routes(router: ConnectRouter): void;
  /** Runs the periodic jobs: presence sweep (every 5 s) and health retention (7 days, pruned hourly). */
  startBackground(options?: {
    presenceSweepMs?: number;
    healthRetentionMs?: number;
    pruneEveryMs?: number;
  }): () => void;
  /** Ends every stream and timer (graceful shutdown). */
  close(): void;
}

/**
 * Wires the fleet services on their ports. The core server calls this once with the database
 * implementations of the stores and its auth's `principalOf`, mounts `routes`, and passes
 * `runtime.delivery.deliver` to the LISTEN/NOTIFY listener.
 */
export function createFleetPlane(deps: FleetPlaneDeps, principalOf: PrincipalOf): FleetPlane {
  const clock = deps.clock ?? systemClock;
  const config = { ...defaultFleetConfig, ...deps.config };
  const metrics = createFleetMetrics(deps.metricsRegistry);
  const registry = new SessionRegistry();
  const broadcaster = new FleetBroadcaster(
    (tenantId, ids) => loadScreenViews(deps.stores, tenantId, ids, clock.now()),
    deps.broadcastFlushMs,
  );
  const presence = new Presence(clock, (tenantId, screenId) => broadcaster.changed(tenantId, screenId), metrics);
  const delivery = new LiveDelivery({
    registry,
    screens: deps.stores.screens,
    desiredStates: deps.stores.desiredStates,
    commands: deps.stores.commands,
    clock,
  });
  const runtime: FleetRuntime = {
    stores: deps.stores,
    config,
    clock,
    logger: deps.logger,
    registry,
    metrics,
    registrationLimiter: new RequestLimiter(deps.rateLimits, () => clock.now().getTime()),
    delivery,
    broadcaster,
    presence,
    wake: async (screenIds) => {
      await delivery.deliver(screenIds);
      await deps.bus?.notify(screenIds);
    },
  };

  const services = {
    device: createDeviceService(runtime),
    fleet: createFleetService(runtime, principalOf),
    publish: createPublishService(runtime, principalOf),
  };
  return {
    runtime,
    services,
    routes(router) {
      router.service(DeviceService, services.device);
      router.service(FleetService, services.fleet);
      router.service(PublishService, services.publish);
    },
    startBackground(options = {}) {
      const presenceTimer = setInterval(() => runtime.presence.sweep(), options.presenceSweepMs ?? 5000);
      const retention = options.healthRetentionMs ?? defaultHealthRetentionMs;
      const pruneTimer = setInterval(() => {
        const before = new Date(clock.now().getTime() - retention);
        deps.stores.health
          .prune(before)
          .catch((error: unknown) => deps.logger.error({ err: error }, "health prune failed"));
      }, options.pruneEveryMs ?? 3_600_000);
      presenceTimer.unref();
      pruneTimer.unref();
      return () => {
        clearInterval(presenceTimer);
        clearInterval(pruneTimer);
      };
    },
    close() {
      registry.closeAll();
      runtime.broadcaster.close();
    },
  };
}
