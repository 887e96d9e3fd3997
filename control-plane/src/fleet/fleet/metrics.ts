import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The fleet's Prometheus metrics, registered on the registry the server exposes. */
export interface FleetMetrics {
  screensOnline: Gauge;
  streams: Gauge;
  publishToAck: Histogram;
  syncsApplied: Counter;
  syncFailures: Counter<"reason">;
}

/** Creates the fleet metrics on `registry`. */
export function createFleetMetrics(registry: Registry): FleetMetrics {
  return {
    screensOnline: new Gauge({
      name: "avtech_screens_online",
      help: "Screens whose stream this process holds and that sent a message within 3 heartbeat intervals",
      registers: [registry],
    }),
    streams: new Gauge({
      name: "avtech_device_streams",
      help: "Open DeviceService.Connect streams held by this process",
      registers: [registry],
    }),
    publishToAck: new Histogram({
      name: "avtech_publish_to_ack_seconds",
      help: "Time from storing a desired-state version to the screen acknowledging it as applied",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    syncsApplied: new Counter({
      name: "avtech_syncs_applied_total",
      help: "Desired-state versions screens reported applied (assets downloaded and verified, playing)",
      registers: [registry],
    }),
    syncFailures: new Counter({
      name: "avtech_sync_failures_total",
      help: "Sync failures reported by screens, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
}
