import type { Logger } from "pino";
import type { Clock } from "../clock.ts";
import type { LiveDelivery } from "../device/delivery.ts";
import type { SessionRegistry } from "../live/index.ts";
import type { RequestLimiter } from "../rate-limit/index.ts";
import type { FleetBroadcaster } from "./broadcaster.ts";
import type { FleetMetrics } from "./metrics.ts";
import type {
  AssetCatalog,
  CommandStore,
  DesiredStateStore,
  EnrollmentKeyStore,
  GroupStore,
  HealthStore,
  PairingStore,
  PlayEventStore,
  PublishSources,
  ScreenStatusStore,
  ScreenStore,
  ScreenshotStore,
} from "./ports.ts";
import type { Presence } from "./presence.ts";

/** Every repository port the fleet, device and publish services use. */
export interface FleetStores {
  screens: ScreenStore;
  groups: GroupStore;
  pairings: PairingStore;
  enrollmentKeys: EnrollmentKeyStore;
  desiredStates: DesiredStateStore;
  statuses: ScreenStatusStore;
  commands: CommandStore;
  screenshots: ScreenshotStore;
  health: HealthStore;
  playEvents: PlayEventStore;
  publishSources: PublishSources;
  assets: AssetCatalog;
}

/**
 * Settings of the fleet services (defaults in {@link defaultFleetConfig}). The heartbeat interval,
 * pairing TTL and command TTL are operator settings: assemble.ts passes them from the validated
 * config (`fleet.*`, see control-plane/README.md); the others keep their defaults.
 */
export interface FleetConfig {
  /** Told to screens in Welcome; offline after 3 missed. */
  heartbeatIntervalSeconds: number;
  playEventBatchSeconds: number;
  /** Pairing codes live this long (RFC 8628 advice: short; at most 15 minutes). */
  pairingTtlSeconds: number;
  pairingPollSeconds: number;
  /** Time zone of claimed screens when the claim names none. */
  defaultTimezone: string;
  /** Where screens GET assets; relative URLs resolve against the control plane's URL. */
  assetUrl: (sha256: string) => string;
  maxScreenshotBytes: number;
  /** Default command time-to-live when SendCommand gives none. */
  commandTtlSeconds: number;
  /** A stream that sends no hello within this is dropped, so idle sockets cannot pin handlers. */
  helloTimeoutMs: number;
}

/** Longest command time-to-live SendCommand accepts (7 days), whether asked for or the default. */
export const maxCommandTtlSeconds = 7 * 24 * 3600;

/** Defaults a signage operator would expect. */
export const defaultFleetConfig: FleetConfig = {
  heartbeatIntervalSeconds: 15,
  playEventBatchSeconds: 60,
  pairingTtlSeconds: 600,
  pairingPollSeconds: 5,
  defaultTimezone: "UTC",
  assetUrl: (sha256) => `/assets/${sha256}`,
  maxScreenshotBytes: 16 * 1024 * 1024,
  commandTtlSeconds: 3600,
  helloTimeoutMs: 10_000,
};

/** The in-process parts shared by the services of one control-plane process. */
export interface FleetRuntime {
  stores: FleetStores;
  config: FleetConfig;
  clock: Clock;
  logger: Logger;
  registry: SessionRegistry;
  delivery: LiveDelivery;
  broadcaster: FleetBroadcaster;
  presence: Presence;
  metrics: FleetMetrics;
  /** Rate limit of the unauthenticated DeviceService calls. */
  registrationLimiter: RequestLimiter;
  /** Brings the named screens up to date wherever their streams are (this process and, via the bus, others). */
  wake(screenIds: readonly string[]): Promise<void>;
}
