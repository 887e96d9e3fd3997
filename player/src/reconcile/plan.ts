import { isSha256Hex } from "@avtech/proto";
import type { DesiredState } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { planQuota } from "../assets/index.ts";
import type { CurrentState, PlanContext, Step } from "./steps.ts";

/**
 * Plans the next steps from `current` towards `target` (undefined = keep the last good state).
 * Pure: no I/O, no clock. An empty plan means converged. The loop executes the steps in order
 * and plans again, so each plan only needs to make progress, not to finish:
 *   1. verify cached files found at start-up that the target or playing state references;
 *   2. refuse an inconsistent target (INVALID_STATE) or one whose assets cannot fit (QUOTA_EXCEEDED);
 *   3. evict unreferenced files for room, then download what is missing;
 *   4. with every asset present and verified: persist, play, ack — in that order, so an ack
 *      always means "survives a power cut and is on screen";
 *   5. when idle, verify the remaining (unreferenced) cached files.
 */
export function planSteps(current: CurrentState, target: DesiredState | undefined, ctx: PlanContext): Step[] {
  const { cache } = current;
  const wanted = target && target.version !== current.rejectedVersion ? target : current.applied;
  const playingRefs = referencedAssets(current.applied);
  if (current.clearUnreferenced) {
    const keep = new Set([...playingRefs.keys(), ...referencedAssets(wanted).keys()]);
    const all = new Set([...cache.verified.keys(), ...cache.unverified.keys(), ...cache.parts.keys()]);
    const evict = [...all].filter((sha) => !keep.has(sha));
    if (evict.length > 0) return evict.map((sha256) => ({ action: "evict", sha256 }));
  }
  if (!wanted) return idleSteps(current);
  if (target && target.version === current.rejectedVersion && wanted === current.applied) {
    const idle = idleSteps(current);
    if (idle.length > 0 || (current.applied && current.playing)) {
      return idle.length > 0
        ? idle
        : [{ action: "noop", reason: `version ${target.version} was refused; waiting for a newer one` }];
    }
  }

  const problems = stateProblems(wanted);
  if (problems.length > 0) {
    return [
      {
        action: "reportFailure",
        version: wanted.version,
        failure: {
          reason: "INVALID_STATE",
          message: problems.join("; "),
          assetSha256: "",
          neededBytes: 0,
          availableBytes: 0,
        },
      },
    ];
  }

  const refs = referencedAssets(wanted);
  const toVerify = [...refs.keys(), ...playingRefs.keys()].filter((sha) => cache.unverified.has(sha));
  if (toVerify.length > 0) return [...new Set(toVerify)].map((sha256) => ({ action: "verify", sha256 }));

  const missing = [...refs.values()].filter((asset) => !cache.verified.has(asset.sha256));
  const protectedShas = new Set([...refs.keys(), ...playingRefs.keys()]);
  const entries = [...cache.verified, ...cache.unverified, ...cache.parts].map(([sha256, bytes]) => ({
    sha256,
    bytes,
    referenced: protectedShas.has(sha256),
    lastPlayedAt: current.lastPlayedAt.get(sha256) ?? 0,
  }));
  const quota = planQuota({
    entries,
    missingBytes: missing.reduce(
      (sum, a) => sum + Math.max(0, Number(a.sizeBytes) - (cache.parts.get(a.sha256) ?? 0)),
      0,
    ),
    neededBytes: [...refs.values()].reduce((sum, a) => sum + Number(a.sizeBytes), 0),
    freeBytes: current.freeBytes,
    maxMediaBytes: ctx.maxMediaBytes,
    minFreeBytes: ctx.minFreeBytes,
  });
  const evictions: Step[] = quota.evict.map((sha256) => ({ action: "evict", sha256 }));
  if (quota.type === "Exceeded") {
    return [
      ...evictions,
      {
        action: "reportFailure",
        version: wanted.version,
        failure: {
          reason: "QUOTA_EXCEEDED",
          message: `the state needs ${quota.neededBytes} bytes of media; max_media_bytes and min_free_bytes allow ${quota.availableBytes}`,
          assetSha256: "",
          neededBytes: quota.neededBytes,
          availableBytes: quota.availableBytes,
        },
      },
    ];
  }
  if (missing.length > 0 || evictions.length > 0) {
    return [
      ...evictions,
      ...missing.map(
        (a): Step => ({ action: "download", sha256: a.sha256, sizeBytes: Number(a.sizeBytes), url: a.url }),
      ),
    ];
  }

  const steps: Step[] = [];
  if (!current.applied || !sameState(current.applied, wanted)) steps.push({ action: "writeState", state: wanted });
  if (
    !current.playing ||
    current.playing.version !== wanted.version ||
    current.playing.contentHash !== wanted.contentHash
  ) {
    steps.push({ action: "applyPlayback", state: wanted });
  }
  if (current.ackedVersion !== wanted.version) steps.push({ action: "ack", version: wanted.version });
  if (steps.length > 0) return steps;
  const idle = idleSteps(current);
  if (idle.length > 0 || !target || target.version !== current.rejectedVersion) return idle;
  return [{ action: "noop", reason: `version ${target.version} was refused; waiting for a newer one` }];
}

function idleSteps(current: CurrentState): Step[] {
  return [...current.cache.unverified.keys()].map((sha256) => ({ action: "verify", sha256 }));
}

function sameState(a: DesiredState, b: DesiredState): boolean {
  return a.version === b.version && a.contentHash === b.contentHash;
}

/** The manifest entries the playlists of `state` use, by sha256. */
export function referencedAssets(state: DesiredState | undefined): Map<string, DesiredState["assets"][number]> {
  const out = new Map<string, DesiredState["assets"][number]>();
  if (!state) return out;
  const manifest = new Map(state.assets.map((a) => [a.sha256, a]));
  for (const playlist of state.playlists) {
    for (const item of playlist.items) {
      const asset = manifest.get(item.assetSha256);
      if (asset) out.set(asset.sha256, asset);
    }
  }
  return out;
}

/** What makes a state unplayable; empty when it is consistent. */
export function stateProblems(state: DesiredState): string[] {
  const problems: string[] = [];
  const playlists = new Set(state.playlists.map((p) => p.id));
  const manifest = new Set(state.assets.map((a) => a.sha256));
  for (const rule of state.rules) {
    if (!playlists.has(rule.playlistId)) problems.push(`rule ${rule.id} names unknown playlist ${rule.playlistId}`);
  }
  if (state.defaultPlaylistId && !playlists.has(state.defaultPlaylistId)) {
    problems.push(`default playlist ${state.defaultPlaylistId} is not in the document`);
  }
  for (const playlist of state.playlists) {
    if (playlist.items.length === 0) problems.push(`playlist ${playlist.id} is empty`);
    for (const item of playlist.items) {
      if (!manifest.has(item.assetSha256)) {
        problems.push(`playlist ${playlist.id} names asset ${item.assetSha256} missing from the manifest`);
      }
    }
  }
  for (const asset of state.assets) {
    if (!isSha256Hex(asset.sha256)) problems.push(`asset sha256 "${asset.sha256}" is not lowercase hex`);
  }
  return problems;
}
