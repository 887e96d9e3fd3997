import { evaluateSchedule, type RuleTiming } from "@avtech/proto";
import type { Health, PlaybackStatus } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import type { DisplayHours } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";

/**
 * The alert rules and what each decides about one screen. Pure: the engine reads the facts from
 * the fleet's tables (screen_status, screens) and applies what this returns.
 */

/** The rules, in the order of `AlertRuleKind` (alert.proto): the stored `kind` is the index + 1. */
export const ruleKinds = [
  "screen_offline",
  "sync_failed",
  "disk_full",
  "overheated",
  "clock_unsynced",
  "playback_errors",
  "display_off",
] as const;

/** One rule. */
export type RuleKind = (typeof ruleKinds)[number];

/** A rule's setting in a tenant. */
export interface RuleSetting {
  kind: RuleKind;
  enabled: boolean;
  /** In the rule's unit ({@link thresholds}); 0 for rules without one. */
  threshold: number;
}

/** The rules that take a threshold: its default, range and unit (for messages and the console). */
export const thresholds: Partial<Record<RuleKind, { default: number; min: number; max: number; unit: string }>> = {
  screen_offline: { default: 10, min: 1, max: 7 * 24 * 60, unit: "minutes" },
  disk_full: { default: 90, min: 50, max: 100, unit: "percent" },
  overheated: { default: 80, min: 40, max: 110, unit: "°C" },
  playback_errors: { default: 3, min: 1, max: 1000, unit: "mpv restarts per hour" },
};

/** Every rule as it is when a tenant changed nothing: enabled, default thresholds. */
export function defaultRules(): Map<RuleKind, RuleSetting> {
  return new Map(
    ruleKinds.map((kind) => [kind, { kind, enabled: true, threshold: thresholds[kind]?.default ?? 0 }] as const),
  );
}

/**
 * What is wrong with a requested threshold (undefined: nothing). 0 means "keep the current one";
 * rules without a threshold accept only 0.
 */
export function thresholdProblem(kind: RuleKind, threshold: number): string | undefined {
  const range = thresholds[kind];
  if (threshold === 0) return undefined;
  if (!range) return `rule ${kind} takes no threshold: send 0`;
  if (!Number.isFinite(threshold) || threshold < range.min || threshold > range.max) {
    return `rule ${kind}: threshold must be ${range.min}..${range.max} ${range.unit} (got ${threshold})`;
  }
  return undefined;
}

/** What the fleet knows about one screen, as the engine reads it. */
export interface ScreenFacts {
  tenantId: string;
  screenId: string;
  /** Null for a screen that never connected: it opens no offline alert (it was never online). */
  lastSeenAt: Date | null;
  streamOpen: boolean;
  heartbeatIntervalSeconds: number;
  health: Health | undefined;
  playback: PlaybackStatus | undefined;
  desiredVersion: bigint;
  appliedVersion: bigint;
  lastFailedVersion: bigint;
  /** `<SyncFailureReason>: <message>` of the last failed version. */
  lastSyncError: string;
  timezone: string;
  displayHours: readonly DisplayHours[];
}

/**
 * A rule's verdict: the condition holds (with what was measured), or it does not. A rule the facts
 * cannot decide (no health yet, or the screen is offline so its health is stale) has no verdict:
 * its alert, if any, stays as it is.
 */
export type Verdict = { holds: true; detail: string } | { holds: false };

/** A screen is online while its stream is open and it missed fewer than 3 heartbeats (as FleetService shows it). */
export function isOnline(
  facts: Pick<ScreenFacts, "lastSeenAt" | "streamOpen" | "heartbeatIntervalSeconds">,
  now: Date,
) {
  if (!facts.lastSeenAt || !facts.streamOpen) return false;
  return now.getTime() - facts.lastSeenAt.getTime() <= 3 * facts.heartbeatIntervalSeconds * 1000;
}

const clear: Verdict = { holds: false };
const holds = (detail: string): Verdict => ({ holds: true, detail });

/** Bits 0..2 of `vcgencmd get_throttled`: under-voltage, frequency capped, throttled, now (not since boot). */
const throttledNow = 0b111;

/** Whether the screen's display hours say the display is on at `at` (the player's own evaluation). */
export function displayShouldBeOn(hours: readonly DisplayHours[], timezone: string, at: Date): boolean {
  if (hours.length === 0) return true;
  const rules: RuleTiming[] = hours.map((entry, index) => ({
    id: `display-hours-${index}`,
    playlistId: "on",
    priority: 0,
    startDate: undefined,
    endDate: undefined,
    window: entry.window,
    daysOfWeek: entry.daysOfWeek,
  }));
  return evaluateSchedule({ rules, defaultPlaylistId: "", timezone }, at).playlistId === "on";
}

/**
 * The verdict of every enabled rule for one screen at `now`; a disabled rule is always clear (its
 * open alert resolves). Health rules are judged only while the screen is online.
 */
export function judgeScreen(
  facts: ScreenFacts,
  rules: ReadonlyMap<RuleKind, RuleSetting>,
  now: Date,
): Map<RuleKind, Verdict> {
  const verdicts = new Map<RuleKind, Verdict>();
  const online = isOnline(facts, now);
  const syncFailed =
    facts.desiredVersion > 0n &&
    facts.appliedVersion < facts.desiredVersion &&
    facts.lastFailedVersion === facts.desiredVersion;
  const { health, playback } = facts;
  for (const [kind, rule] of rules) {
    if (!rule.enabled) {
      verdicts.set(kind, clear);
      continue;
    }
    const verdict = judge(kind, rule.threshold);
    if (verdict) verdicts.set(kind, verdict);
  }
  return verdicts;

  function judge(kind: RuleKind, threshold: number): Verdict | undefined {
    switch (kind) {
      case "screen_offline": {
        if (!facts.lastSeenAt) return undefined;
        const silentMs = now.getTime() - facts.lastSeenAt.getTime();
        return !online && silentMs > threshold * 60_000 ? holds(`last seen ${facts.lastSeenAt.toISOString()}`) : clear;
      }
      case "sync_failed":
        return syncFailed ? holds(`version ${facts.desiredVersion} failed: ${facts.lastSyncError}`) : clear;
      case "disk_full": {
        if (syncFailed && facts.lastSyncError.startsWith("QUOTA_EXCEEDED")) return holds(facts.lastSyncError);
        if (!online || !health) return undefined;
        if (health.mediaQuotaBytes > 0n && health.mediaBytes > health.mediaQuotaBytes) {
          return holds(`media cache ${health.mediaBytes} bytes is over its quota of ${health.mediaQuotaBytes}`);
        }
        if (health.diskTotalBytes === 0n) return clear;
        const percent = Math.round(Number((health.diskUsedBytes * 1000n) / health.diskTotalBytes) / 10);
        return percent > threshold ? holds(`disk ${percent} % full`) : clear;
      }
      case "overheated": {
        if (!online || !health) return undefined;
        const celsius = Math.round(health.cpuTemperatureCelsius);
        if (health.cpuTemperatureCelsius > threshold) return holds(`SoC at ${celsius} °C`);
        if ((health.throttledFlags & throttledNow) !== 0) {
          return holds(`throttled (get_throttled=0x${health.throttledFlags.toString(16)}) at ${celsius} °C`);
        }
        return clear;
      }
      case "clock_unsynced":
        if (!online || !health) return undefined;
        return health.clockSynced ? clear : holds("system clock not NTP-synchronised");
      case "playback_errors":
        if (!online || !playback) return undefined;
        if (playback.mpvCrashLoop) return holds("mpv is in a crash loop");
        return playback.mpvRestartsLastHour > threshold
          ? holds(`${playback.mpvRestartsLastHour} mpv restarts in the past hour`)
          : clear;
      case "display_off":
        if (!online || !playback) return undefined;
        return playback.state === PlaybackState.DISPLAY_OFF &&
          displayShouldBeOn(facts.displayHours, facts.timezone, now)
          ? holds("display off during display hours")
          : clear;
    }
  }
}
