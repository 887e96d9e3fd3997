import type { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import type pg from "pg";
import type { Clock } from "../../platform/clock.ts";
import { ensurePartitions, isMissingPartition } from "../report/partitions.ts";
import type { RetentionPolicy } from "../report/retention.ts";
import { UptimeAccumulator, uptimeStateOf } from "../report/uptime.ts";

/** What the screen-status store tells about streams and heartbeats, for uptime. */
export interface UptimeRecorder {
  opened(screenId: string, at: Date, intervalSeconds: number): void;
  beat(screenId: string, at: Date, state: PlaybackState | undefined): void;
  closed(screenId: string): void;
}

/**
 * Uptime per screen and UTC hour in `screen_uptime_hourly`: heartbeats are credited in memory
 * ({@link UptimeAccumulator}) and {@link flush} adds them with ONE upsert, run with the heartbeat
 * flush (every 3 s): for 10,000 screens, one statement of at most 10,000 rows (20,000 when a flush
 * straddles an hour) instead of a write per heartbeat. Hours of deleted screens are dropped.
 */
export class PgUptimeStore implements UptimeRecorder {
  readonly #pool: pg.Pool;
  readonly #policy: RetentionPolicy;
  readonly #clock: Clock;
  readonly #hours = new UptimeAccumulator();

  constructor(pool: pg.Pool, options: { policy: RetentionPolicy; clock: Clock }) {
    this.#pool = pool;
    this.#policy = options.policy;
    this.#clock = options.clock;
  }

  opened(screenId: string, at: Date, intervalSeconds: number): void {
    this.#hours.opened(screenId, at, intervalSeconds);
  }

  beat(screenId: string, at: Date, state: PlaybackState | undefined): void {
    this.#hours.beat(screenId, at, uptimeStateOf(state));
  }

  closed(screenId: string): void {
    this.#hours.closed(screenId);
  }

  /** Adds every credited hour to the table in one statement; on failure they wait for the next flush. */
  async flush(): Promise<number> {
    const hours = this.#hours.take();
    if (hours.length === 0) return 0;
    hours.sort((a, b) => (a.screenId < b.screenId ? -1 : a.screenId > b.screenId ? 1 : a.hour - b.hour));
    const params = [
      hours.map((h) => h.screenId),
      hours.map((h) => new Date(h.hour)),
      hours.map((h) => Math.round(h.playing)),
      hours.map((h) => Math.round(h.displayOff)),
      hours.map((h) => Math.round(h.idle)),
    ];
    const sql = `INSERT INTO screen_uptime_hourly AS u (screen_id, hour, tenant_id, playing_ms, display_off_ms, idle_ms)
                 SELECT v.screen_id, v.hour, s.tenant_id, v.playing, v.display_off, v.idle
                   FROM unnest($1::uuid[], $2::timestamptz[], $3::int[], $4::int[], $5::int[]) WITH ORDINALITY
                        AS v(screen_id, hour, playing, display_off, idle, n)
                   JOIN screens s ON s.id = v.screen_id
                  ORDER BY v.n
                 ON CONFLICT (screen_id, hour) DO UPDATE
                    SET playing_ms = u.playing_ms + excluded.playing_ms,
                        display_off_ms = u.display_off_ms + excluded.display_off_ms,
                        idle_ms = u.idle_ms + excluded.idle_ms`;
    try {
      try {
        return (await this.#pool.query(sql, params)).rowCount ?? 0;
      } catch (error) {
        if (!isMissingPartition(error)) throw error;
        await ensurePartitions(this.#pool, this.#policy, this.#clock.now());
        return (await this.#pool.query(sql, params)).rowCount ?? 0;
      }
    } catch (error) {
      this.#hours.restore(hours);
      throw error;
    }
  }
}
