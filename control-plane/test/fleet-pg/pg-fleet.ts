import { randomUUID } from "node:crypto";
import pg from "pg";
import pino from "pino";
import { createDbAssetCatalog, createDbPublishSources } from "../../src/core/schedule/index.ts";
import { createPgFleetStores, type PgFleetStores } from "../../src/fleet/pg/index.ts";
import { type FleetTestServer, startFleetTestServer } from "../lib/fleet-server.ts";
import { createMigratedDatabase, type MigratedDatabase } from "../lib/migrated-database.ts";

/** A migrated database with a `pg` pool, and helpers to seed what the core's services would write. */
export interface PgFleetDatabase {
  db: MigratedDatabase;
  pool: pg.Pool;
  /** A fleet server (real HTTP/2, port 0) on a fresh set of PostgreSQL stores with its own pool. */
  server(options?: Parameters<typeof startFleetTestServer>[0]): Promise<FleetTestServer<PgFleetStores>>;
  /** Inserts a tenant row; returns its id. */
  tenant(slug: string): Promise<string>;
  /** Inserts `count` bare screens of the tenant named `<prefix>1…`, in one statement; returns their ids. */
  bareScreens(tenantId: string, prefix: string, count: number): Promise<string[]>;
  /** Makes `clips` (sha256s) the tenant's default playlist, as ScheduleService would store it. */
  defaultPlaylist(tenantId: string, sha256s: readonly string[], name?: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens the test file's database and pool. */
export async function openPgFleetDatabase(): Promise<PgFleetDatabase> {
  const db = await createMigratedDatabase();
  const pool = new pg.Pool({ connectionString: db.database.url, max: 10 });
  const logger = pino({ level: "silent" });
  const opened: Array<{ server: FleetTestServer<PgFleetStores>; pool: pg.Pool }> = [];
  return {
    db,
    pool,
    async server(options = {}) {
      const own = new pg.Pool({ connectionString: db.database.url, max: 10 });
      const stores = createPgFleetStores({
        pool: own,
        logger,
        core: { publishSources: createDbPublishSources(db.orm), assets: createDbAssetCatalog(db.orm) },
        // Play events wait 5 ms, not a second, to be written together.
        plays: { policy: { rawRetentionDays: 7, rollupRetentionMonths: 13 }, flushMs: 5 },
      });
      const server = await startFleetTestServer({ ...options, stores });
      opened.push({ server, pool: own });
      return server;
    },
    async tenant(slug) {
      const id = randomUUID();
      await pool.query(
        `INSERT INTO tenants (id, slug, name, storage_quota_bytes, screen_quota, created_at)
         VALUES ($1, $2, $2, 1000000000, 1000, now())`,
        [id, slug],
      );
      return id;
    },
    async bareScreens(tenantId, prefix, count) {
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO screens (id, tenant_id, name, hardware_id, settings, created_at)
         SELECT gen_random_uuid(), $1, $2 || n, $2 || n, '{}', now() FROM generate_series(1, $3::int) AS n
         RETURNING id`,
        [tenantId, prefix, count],
      );
      return rows.map((row) => row.id);
    },
    async defaultPlaylist(tenantId, sha256s, name = "Default") {
      const playlistId = randomUUID();
      await pool.query(
        "INSERT INTO playlists (id, tenant_id, name, created_at, updated_at) VALUES ($1, $2, $3, now(), now())",
        [playlistId, tenantId, name],
      );
      for (const [position, sha256] of sha256s.entries()) {
        const videoId = randomUUID();
        await pool.query(
          `INSERT INTO videos (id, tenant_id, sha256, size_bytes, duration_ms, codec, width, height, name, original_name,
                               content_type, created_by, created_at)
           VALUES ($1, $2, $3, 1000, 5000, 'h264', 1920, 1080, $3, 'clip.mp4', 'video/mp4', 'test', now())
           ON CONFLICT (tenant_id, sha256) DO NOTHING`,
          [videoId, tenantId, sha256],
        );
        await pool.query(
          `INSERT INTO playlist_items (id, playlist_id, position, video_id)
           SELECT $1, $2, $3, id FROM videos WHERE tenant_id = $4 AND sha256 = $5`,
          [randomUUID(), playlistId, position, tenantId, sha256],
        );
      }
      await pool.query(
        `INSERT INTO default_playlists (id, tenant_id, scope, playlist_id) VALUES ($1, $2, 'tenant', $3)
         ON CONFLICT (tenant_id, scope) DO UPDATE SET playlist_id = excluded.playlist_id`,
        [randomUUID(), tenantId, playlistId],
      );
    },
    async close() {
      for (const { server, pool: own } of opened) {
        await server.close();
        await own.end();
      }
      await pool.end();
      await db.close();
    },
  };
}
