import {
  type Health,
  HealthSchema,
  type PlaybackStatus,
  PlaybackStatusSchema,
} from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import type { ScreenStatus, ScreenStatusStore } from "../fleet/ports.ts";
import { emptyStatus } from "../fleet/view.ts";
import { isUuid } from "./sql.ts";
import type { UptimeRecorder } from "./uptime.ts";

type StatusPatch = Partial<Omit<ScreenStatus, "screenId">>;

/** What a heartbeat changes: kept in memory and written in batches. */
interface Volatile {
  lastSeenAt?: Date;
  lastHealth?: Health;
  playback?: PlaybackStatus;
}
const volatileKeys = new Set(["lastSeenAt", "lastHealth", "playback"]);

/** An ack waiting for the next group write. */
interface PendingAck {
  screenId: string;
  version: bigint;
  at: Date;
  resolve(raised: { desiredVersion: bigint; desiredAt: Date | undefined } | undefined): void;
  reject(error: unknown): void;
}

interface StatusRow {
  screen_id: string;
  last_seen_at: Date | null;
  heartbeat_interval_seconds: number;
  stream_open: boolean;
  ip_address: string;
  desired_version: string;
  applied_version: string;
  desired_at: Date | null;
  last_sync_error: string;
  last_failed_version: string;
  last_health: Buffer | null;
  playback: Buffer | null;
  image_version: string;
  booted_slot: string;
}

const columns: Record<keyof StatusPatch, string> = {
  lastSeenAt: "last_seen_at",
  heartbeatIntervalSeconds: "heartbeat_interval_seconds",
  streamOpen: "stream_open",
  ipAddress: "ip_address",
  desiredVersion: "desired_version",
  appliedVersion: "applied_version",
  desiredAt: "desired_at",
  lastSyncError: "last_sync_error",
  lastFailedVersion: "last_failed_version",
  lastHealth: "last_health",
  playback: "playback",
  imageVersion: "image_version",
  bootedSlot: "booted_slot",
};

function sqlValue(key: keyof StatusPatch, value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (key === "lastHealth") return Buffer.from(toBinary(HealthSchema, value as Health));
  if (key === "playback") return Buffer.from(toBinary(PlaybackStatusSchema, value as PlaybackStatus));
  return value;
}

function toStatus(row: StatusRow): ScreenStatus {
  return {
    screenId: row.screen_id,
    lastSeenAt: row.last_seen_at ?? undefined,
    heartbeatIntervalSeconds: row.heartbeat_interval_seconds,
    streamOpen: row.stream_open,
    ipAddress: row.ip_address,
    desiredVersion: BigInt(row.desired_version),
    appliedVersion: BigInt(row.applied_version),
    desiredAt: row.desired_at ?? undefined,
    lastSyncError: row.last_sync_error,
    lastFailedVersion: BigInt(row.last_failed_version),
    lastHealth: row.last_health ? fromBinary(HealthSchema, row.last_health) : undefined,
    playback: row.playback ? fromBinary(PlaybackStatusSchema, row.playback) : undefined,
    imageVersion: row.image_version,
    bootedSlot: row.booted_slot,
  };
}

/**
 * ScreenStatusStore on `screen_status`. Heartbeats (patches of only lastSeenAt/lastHealth/
 * playback) stay in memory and {@link flush} writes all of them in ONE statement, so 10,000
 * screens heartbeating every 15 s cost one UPDATE every few seconds instead of ~670 writes/s.
 * Reads in this process overlay the pending values; other replicas see them after the flush,
 * which is far inside the 3 missed heartbeats that mark a screen offline. Every other patch is
 * written at once (taking the screen's pending heartbeat fields with it, so order is kept).
 */
export class PgScreenStatusStore implements ScreenStatusStore {
  readonly #pool: pg.Pool;
  readonly #pending = new Map<string, Volatile>();
  #acks: PendingAck[] = [];
  #ackWriter: Promise<void> | undefined;
  readonly #uptime: UptimeRecorder | undefined;

  /** `uptime`, when given, hears of every stream opened or closed and every heartbeat (src/fleet/report). */
  constructor(pool: pg.Pool, uptime?: UptimeRecorder) {
    this.#pool = pool;
    this.#uptime = uptime;
  }

  /** Screens with heartbeat fields not yet written. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  async get(screenId: string): Promise<ScreenStatus | undefined> {
    return (await this.getMany([screenId])).get(screenId);
  }

  async getMany(screenIds: readonly string[]): Promise<Map<string, ScreenStatus>> {
    const ids = screenIds.filter(isUuid);
    const found = new Map<string, ScreenStatus>();
    if (ids.length === 0) return found;
    const { rows } = await this.#pool.query<StatusRow>(
      "SELECT * FROM screen_status WHERE screen_id = ANY($1::uuid[])",
      [ids],
    );
    for (const row of rows) found.set(row.screen_id, toStatus(row));
    for (const id of ids) {
      const pending = this.#pending.get(id);
      if (pending) found.set(id, { ...(found.get(id) ?? emptyStatus(id, 15)), ...pending });
    }
    return found;
  }

  async patch(screenId: string, patch: StatusPatch): Promise<void> {
    if (!isUuid(screenId)) return;
    this.#tellUptime(screenId, patch);
    const keys = Object.keys(patch) as Array<keyof StatusPatch>;
    if (keys.every((key) => volatileKeys.has(key))) {
      this.#pending.set(screenId, { ...this.#pending.get(screenId), ...(patch as Volatile) });
      return;
    }
    const pending = this.#pending.get(screenId);
    this.#pending.delete(screenId);
    const merged: StatusPatch = { ...pending, ...patch };
    const names = (Object.keys(merged) as Array<keyof StatusPatch>).filter((key) => key in columns);
    const values = names.map((key) => sqlValue(key, merged[key]));
    const list = names.map((key) => `"${columns[key]}"`);
    const placeholders = names.map((_, index) => `$${index + 2}`);
    const updates = list.map((column) => `${column} = excluded.${column}`);
    try {
      await this.#pool.query(
        `INSERT INTO screen_status (screen_id${list.map((c) => `, ${c}`).join("")})
         VALUES ($1${placeholders.map((p) => `, ${p}`).join("")})
         ON CONFLICT (screen_id) DO ${updates.length > 0 ? `UPDATE SET ${updates.join(", ")}` : "NOTHING"}`,
        [screenId, ...values],
      );
    } catch (error) {
      // The caller hears of its own fields' failure; the heartbeat fields this write took along
      // (and any in the patch: the screen was seen then) would otherwise be lost without a word,
      // e.g. a stream closing while PostgreSQL is down. Back for the next flush; newer pending values win.
      const volatile: Volatile = {};
      if (merged.lastSeenAt) volatile.lastSeenAt = merged.lastSeenAt;
      if (merged.lastHealth) volatile.lastHealth = merged.lastHealth;
      if (merged.playback) volatile.playback = merged.playback;
      if (Object.keys(volatile).length > 0)
        this.#pending.set(screenId, { ...volatile, ...this.#pending.get(screenId) });
      throw error;
    }
  }

  /** A stream opening (streamOpen + lastSeenAt), a heartbeat (lastSeenAt + playback), a stream closing. */
  #tellUptime(screenId: string, patch: StatusPatch): void {
    if (!this.#uptime) return;
    if (patch.streamOpen === true && patch.lastSeenAt) {
      this.#uptime.opened(screenId, patch.lastSeenAt, patch.heartbeatIntervalSeconds ?? 15);
    } else if (patch.streamOpen === false) {
      this.#uptime.closed(screenId);
    } else if (patch.lastSeenAt && "playback" in patch) {
      this.#uptime.beat(screenId, patch.lastSeenAt, patch.playback?.state);
    }
  }

  /**
   * Every statement here that writes several screen_status rows locks them in screen id order (raises,
   * acks, heartbeat flushes): rows locked in different orders by concurrent statements deadlock.
   */
  async raiseDesiredMany(entries: ReadonlyArray<{ screenId: string; version: bigint }>, at: Date): Promise<void> {
    const valid = entries.filter((entry) => isUuid(entry.screenId));
    if (valid.length === 0) return;
    await this.#pool.query(
      `INSERT INTO screen_status AS s (screen_id, desired_version, desired_at)
       SELECT v.screen_id, v.version, $3 FROM unnest($1::uuid[], $2::bigint[]) AS v(screen_id, version)
        WHERE EXISTS (SELECT 1 FROM screens WHERE id = v.screen_id)
        ORDER BY v.screen_id
       ON CONFLICT (screen_id) DO UPDATE SET desired_version = excluded.desired_version, desired_at = excluded.desired_at
        WHERE s.desired_version < excluded.desired_version`,
      [valid.map((entry) => entry.screenId), valid.map((entry) => entry.version.toString()), at],
    );
  }

  /**
   * Acks are group-committed: while one batch is being written, the acks that arrive meanwhile
   * queue up and go out together in the next statement (no timer, so a lone ack is written at
   * once). 10,000 screens acking a publish cost a handful of statements, not 20,000.
   */
  recordApplied(
    screenId: string,
    version: bigint,
    at: Date,
  ): Promise<{ desiredVersion: bigint; desiredAt: Date | undefined } | undefined> {
    if (!isUuid(screenId)) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.#acks.push({ screenId, version, at, resolve, reject });
      this.#ackWriter ??= this.#writeAcks();
    });
  }

  async #writeAcks(): Promise<void> {
    while (this.#acks.length > 0) {
      const batch = this.#acks;
      this.#acks = [];
      try {
        const { rows } = await this.#pool.query<{
          screen_id: string;
          applied_version: string;
          desired_version: string;
          desired_at: Date | null;
        }>(
          `INSERT INTO screen_status AS s (screen_id, applied_version, last_seen_at)
           SELECT DISTINCT ON (v.screen_id) v.screen_id, v.version, v.at
             FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) AS v(screen_id, version, at)
            WHERE EXISTS (SELECT 1 FROM screens WHERE id = v.screen_id)
            ORDER BY v.screen_id, v.version DESC
           ON CONFLICT (screen_id) DO UPDATE
              SET applied_version = excluded.applied_version,
                  last_seen_at = greatest(s.last_seen_at, excluded.last_seen_at)
            WHERE s.applied_version < excluded.applied_version
           RETURNING s.screen_id, s.applied_version, s.desired_version, s.desired_at`,
          [batch.map((ack) => ack.screenId), batch.map((ack) => ack.version.toString()), batch.map((ack) => ack.at)],
        );
        const raised = new Map(rows.map((row) => [row.screen_id, row]));
        for (const ack of batch) {
          const row = raised.get(ack.screenId);
          // Only the ack whose version was written reports it (a batch may hold two of one screen).
          if (row && BigInt(row.applied_version) === ack.version) {
            raised.delete(ack.screenId);
            ack.resolve({ desiredVersion: BigInt(row.desired_version), desiredAt: row.desired_at ?? undefined });
          } else {
            ack.resolve(undefined);
          }
        }
      } catch (error) {
        for (const ack of batch) ack.reject(error);
      }
    }
    this.#ackWriter = undefined;
  }

  async delete(screenId: string): Promise<void> {
    this.#pending.delete(screenId);
    if (!isUuid(screenId)) return;
    await this.#pool.query("DELETE FROM screen_status WHERE screen_id = $1", [screenId]);
  }

  /**
   * Writes every pending heartbeat in one UPDATE (rows of deleted screens are simply not
   * matched). `last_seen_at` only moves forward, so a flush racing an immediate patch is harmless.
   */
  async flush(): Promise<number> {
    if (this.#pending.size === 0) return 0;
    const batch = [...this.#pending];
    this.#pending.clear();
    const ids: string[] = [];
    const seen: Array<Date | null> = [];
    const health: Array<Buffer | null> = [];
    const playback: Array<Buffer | null> = [];
    for (const [id, fields] of batch) {
      ids.push(id);
      seen.push(fields.lastSeenAt ?? null);
      health.push(fields.lastHealth ? Buffer.from(toBinary(HealthSchema, fields.lastHealth)) : null);
      playback.push(fields.playback ? Buffer.from(toBinary(PlaybackStatusSchema, fields.playback)) : null);
    }
    try {
      const { rowCount } = await this.#pool.query(
        `WITH locked AS (
           SELECT screen_id FROM screen_status WHERE screen_id = ANY($1::uuid[]) ORDER BY screen_id FOR NO KEY UPDATE
         )
         UPDATE screen_status s
            SET last_seen_at = greatest(s.last_seen_at, v.last_seen_at),
                last_health = coalesce(v.last_health, s.last_health),
                playback = coalesce(v.playback, s.playback)
           FROM unnest($1::uuid[], $2::timestamptz[], $3::bytea[], $4::bytea[]) AS v(screen_id, last_seen_at, last_health, playback)
          WHERE s.screen_id = v.screen_id AND s.screen_id IN (SELECT screen_id FROM locked)`,
        [ids, seen, health, playback],
      );
      return rowCount ?? 0;
    } catch (error) {
      // Put the batch back (newer pending values win) so the next flush retries it.
      for (const [id, fields] of batch) this.#pending.set(id, { ...fields, ...this.#pending.get(id) });
      throw error;
    }
  }
}
