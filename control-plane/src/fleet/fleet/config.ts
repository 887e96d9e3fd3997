import { fleetSettingDefaults } from "../../platform/config/index.ts";

/**
 * Settings of the fleet services (defaults in {@link defaultFleetConfig}). The heartbeat interval,
 * pairing TTL, command TTL and health sample interval are operator settings: assemble.ts passes them from the validated
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
  /**
   * The health history (GetHealthHistory) keeps one heartbeat's health per screen per this many seconds; the live
   * status takes every heartbeat's. A sample per 15 s heartbeat was 14 % of PostgreSQL's busy samples while
   * 30,000 screens took a publish (README, "Running more than one control plane"), and 4× the rows to keep.
   */
  healthSampleSeconds: number;
}

/**
 * Longest command time-to-live SendCommand accepts (7 days), whether asked for or the default; the
 * configuration's limit for `fleet.commandTtlSeconds` (src/platform/config), re-exported here.
 */
export { maxCommandTtlSeconds } from "../../platform/config/index.ts";

/**
 * Defaults a signage operator would expect. The four operator settings (heartbeat interval,
 * pairing TTL, command TTL, health sample interval) are the configuration's defaults (`fleetSettingDefaults` in
 * src/platform/config), so they cannot drift apart.
 */
export const defaultFleetConfig: FleetConfig = {
  heartbeatIntervalSeconds: fleetSettingDefaults.heartbeatIntervalSeconds,
  playEventBatchSeconds: 60,
  pairingTtlSeconds: fleetSettingDefaults.pairingTtlSeconds,
  pairingPollSeconds: 5,
  defaultTimezone: "UTC",
  assetUrl: (sha256) => `/assets/${sha256}`,
  maxScreenshotBytes: 16 * 1024 * 1024,
  commandTtlSeconds: fleetSettingDefaults.commandTtlSeconds,
  helloTimeoutMs: 10_000,
  healthSampleSeconds: fleetSettingDefaults.healthSampleSeconds,
};
