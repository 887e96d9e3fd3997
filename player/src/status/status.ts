import { z } from "zod";
import { readFileIfExists, writeFileAtomic } from "../storage/index.ts";

const snapshotSchema = z.object({
  writtenAt: z.string(),
  pid: z.number(),
  playerVersion: z.string(),
  startedAt: z.string(),
  link: z.object({
    state: z.string(),
    since: z.string(),
    deviceId: z.string().optional(),
    screenName: z.string().optional(),
    lastError: z.string().optional(),
    clockSkewMs: z.number().optional(),
    attempt: z.number(),
  }),
  reconcile: z.object({
    appliedVersion: z.string(),
    targetVersion: z.string(),
    lastError: z.object({ at: z.string(), message: z.string(), reason: z.string() }).optional(),
    retryAt: z.string().optional(),
  }),
  schedule: z
    .object({
      playlistId: z.string().optional(),
      ruleId: z.string().optional(),
      nextChangeAt: z.string(),
      timezone: z.string(),
    })
    .optional(),
  playback: z.object({ state: z.string(), playlistId: z.string(), assetSha256: z.string(), healthy: z.boolean() }),
  media: z.object({
    cachedAssets: z.number(),
    mediaBytes: z.number(),
    maxMediaBytes: z.number(),
    freeBytes: z.number(),
    minFreeBytes: z.number(),
  }),
  pendingPlayBatches: z.number(),
  update: z
    .object({
      system: z.string(),
      bootedSlot: z.string(),
      imageVersion: z.string(),
      phase: z.string().optional(),
      rolloutId: z.string().optional(),
      version: z.string().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      bytesDone: z.number(),
      bytesTotal: z.number(),
    })
    .optional(),
});

/** What `avtech-player status` shows, written by the running player every few seconds. */
export type StatusSnapshot = z.infer<typeof snapshotSchema>;

/** Writes the snapshot atomically (a reader never sees half a file). */
export async function writeStatus(path: string, snapshot: StatusSnapshot): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(snapshot, null, 2)}\n`);
}

/** Reads the snapshot; undefined when the player never ran with this data folder. */
export async function readStatus(path: string): Promise<StatusSnapshot | undefined> {
  const bytes = await readFileIfExists(path);
  if (!bytes) return undefined;
  const text = bytes.toString("utf8");
  return snapshotSchema.parse(JSON.parse(text));
}

/** Renders a snapshot for a terminal; `now` decides whether the player looks alive. */
export function formatStatus(s: StatusSnapshot, now: Date, writeIntervalMs: number): string {
  const ageMs = now.getTime() - Date.parse(s.writtenAt);
  const alive = ageMs <= writeIntervalMs * 3;
  const lines = [
    `player     ${alive ? "running" : `NOT RUNNING? last update ${Math.round(ageMs / 1000)} s ago`} (pid ${s.pid}, v${s.playerVersion}, since ${s.startedAt})`,
    `link       ${s.link.state} since ${s.link.since}${s.link.deviceId ? `, device ${s.link.deviceId}` : ""}${s.link.screenName ? ` "${s.link.screenName}"` : ""}`,
  ];
  if (s.link.clockSkewMs !== undefined) lines.push(`clock      ${s.link.clockSkewMs} ms behind the control plane`);
  if (s.link.lastError) lines.push(`           last link error: ${s.link.lastError} (attempt ${s.link.attempt})`);
  lines.push(`content    applied version ${s.reconcile.appliedVersion}, target ${s.reconcile.targetVersion}`);
  if (s.reconcile.lastError) {
    lines.push(
      `           last sync error ${s.reconcile.lastError.reason} at ${s.reconcile.lastError.at}: ${s.reconcile.lastError.message}`,
    );
    if (s.reconcile.retryAt) lines.push(`           retry at ${s.reconcile.retryAt}`);
  }
  lines.push(
    `playback   ${s.playback.state}${s.playback.playlistId ? ` playlist ${s.playback.playlistId}` : ""}${s.playback.assetSha256 ? ` clip ${s.playback.assetSha256.slice(0, 12)}…` : ""}${s.playback.healthy ? "" : " (UNHEALTHY)"}`,
  );
  if (s.schedule) {
    lines.push(
      `schedule   ${s.schedule.ruleId ? `rule ${s.schedule.ruleId}` : "default playlist"}, next change ${s.schedule.nextChangeAt} (${s.schedule.timezone})`,
    );
  }
  lines.push(
    `media      ${s.media.cachedAssets} assets, ${mib(s.media.mediaBytes)} of ${mib(s.media.maxMediaBytes)} quota; ${mib(s.media.freeBytes)} free (keep ≥ ${mib(s.media.minFreeBytes)})`,
    `plays      ${s.pendingPlayBatches} proof-of-play batches waiting to be sent`,
  );
  if (s.update) lines.push(...formatUpdate(s.update));
  return `${lines.join("\n")}\n`;
}

function formatUpdate(u: NonNullable<StatusSnapshot["update"]>): string[] {
  const os =
    u.system === "rauc"
      ? `image ${u.imageVersion || "(unknown version)"}, booted slot ${u.bootedSlot}`
      : `image ${u.imageVersion || "(unknown version)"}; OS updates ${u.system}`;
  const lines = [`os         ${os}`];
  if (u.phase) {
    const progress = u.phase === "downloading" ? ` ${mib(u.bytesDone)} of ${mib(u.bytesTotal)}` : "";
    lines.push(
      `update     ${u.version} (rollout ${u.rolloutId}) ${u.phase}${progress}${u.reason ? ` ${u.reason}` : ""}${u.message ? `: ${u.message}` : ""}`,
    );
  }
  return lines;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
