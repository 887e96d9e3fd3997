import type pg from "pg";
import { decodeScreenSettings, encodeScreenSettings, type StoredSettings } from "../../platform/db/screen-settings.ts";
import type {
  GroupRecord,
  GroupStore,
  ScreenEdit,
  ScreenPageQuery,
  ScreenRecord,
  ScreenStore,
} from "../fleet/ports.ts";
import { inTransaction, isUniqueViolation, isUuid, nullIfEmpty } from "./sql.ts";

interface ScreenRow {
  id: string;
  tenant_id: string;
  hardware_id: string;
  name: string;
  group_id: string | null;
  tags: string[];
  timezone: string;
  settings: StoredSettings | null;
  model: string;
  os_version: string;
  player_version: string;
  first_seen_at: Date | null;
  created_at: Date;
  claimed_at: Date | null;
  token_hash: string | null;
  revision: number;
}

const selectScreens = `
  SELECT s.id, s.tenant_id, s.hardware_id, s.name, s.group_id, s.timezone, s.settings, s.created_at, s.claimed_at,
         s.token_hash, coalesce(d.model, '') AS model, coalesce(d.os_version, '') AS os_version,
         coalesce(d.player_version, '') AS player_version, d.first_seen_at, coalesce(d.revision, 1) AS revision,
         coalesce((SELECT array_agg(t.tag ORDER BY t.tag) FROM screen_tags t WHERE t.screen_id = s.id), '{}') AS tags
    FROM screens s LEFT JOIN screen_devices d ON d.screen_id = s.id`;

/** `text` as a LIKE pattern matching it anywhere, with `%`, `_` and `\` taken literally. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function toRecord(row: ScreenRow): ScreenRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    hardwareId: row.hardware_id,
    name: row.name,
    groupId: row.group_id ?? "",
    tags: row.tags,
    timezone: row.timezone,
    ...decodeScreenSettings(row.settings),
    model: row.model,
    osVersion: row.os_version,
    playerVersion: row.player_version,
    firstSeenAt: row.first_seen_at ?? row.created_at,
    claimedAt: row.claimed_at ?? row.created_at,
    tokenHash: row.token_hash ?? undefined,
    revision: row.revision,
  };
}

async function replaceTags(client: pg.PoolClient, tenantId: string, screenId: string, tags: readonly string[]) {
  await client.query("DELETE FROM screen_tags WHERE screen_id = $1", [screenId]);
  if (tags.length === 0) return;
  await client.query(
    `INSERT INTO screen_tags (id, tenant_id, screen_id, tag)
     SELECT gen_random_uuid(), $1, $2, tag FROM unnest($3::text[]) AS tag`,
    [tenantId, screenId, tags],
  );
}

/** Inserts a screen with its device row and tags on `client` (inside the caller's transaction). */
/** The tenant's screen with `hardwareId`, read (and row-locked until commit) inside the caller's transaction. */
export async function lockScreenByHardwareId(
  client: pg.PoolClient,
  tenantId: string,
  hardwareId: string,
): Promise<ScreenRecord | undefined> {
  const { rows } = await client.query<ScreenRow>(
    `${selectScreens} WHERE s.tenant_id = $1 AND s.hardware_id = $2 FOR UPDATE OF s`,
    [tenantId, hardwareId],
  );
  return rows[0] && toRecord(rows[0]);
}

export async function insertScreen(client: pg.PoolClient, screen: ScreenRecord): Promise<void> {
  await client.query(
    `INSERT INTO screens (id, tenant_id, name, hardware_id, group_id, timezone, settings, token_hash, created_at,
                          claimed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
    [
      screen.id,
      screen.tenantId,
      screen.name,
      screen.hardwareId,
      nullIfEmpty(screen.groupId),
      screen.timezone,
      JSON.stringify(encodeScreenSettings(screen)),
      screen.tokenHash ?? null,
      screen.claimedAt,
    ],
  );
  await client.query(
    `INSERT INTO screen_devices (screen_id, model, os_version, player_version, first_seen_at, revision)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [screen.id, screen.model, screen.osVersion, screen.playerVersion, screen.firstSeenAt, screen.revision],
  );
  await replaceTags(client, screen.tenantId, screen.id, screen.tags);
}

/**
 * ScreenStore on the core's `screens` + `screen_tags` tables. Unique `token_hash` and unique
 * `(tenant_id, hardware_id)` are database constraints; `update` is `… WHERE revision = $n`.
 */
export class PgScreenStore implements ScreenStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(screen: ScreenRecord): Promise<void> {
    await inTransaction(this.#pool, (client) => insertScreen(client, screen));
  }

  async findByTokenHash(tokenHash: string): Promise<ScreenRecord | undefined> {
    const { rows } = await this.#pool.query<ScreenRow>(`${selectScreens} WHERE s.token_hash = $1`, [tokenHash]);
    return rows[0] && toRecord(rows[0]);
  }

  async findByHardwareId(tenantId: string, hardwareId: string): Promise<ScreenRecord | undefined> {
    if (!isUuid(tenantId)) return undefined;
    const { rows } = await this.#pool.query<ScreenRow>(
      `${selectScreens} WHERE s.tenant_id = $1 AND s.hardware_id = $2`,
      [tenantId, hardwareId],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async get(tenantId: string, id: string): Promise<ScreenRecord | undefined> {
    if (!isUuid(tenantId) || !isUuid(id)) return undefined;
    const { rows } = await this.#pool.query<ScreenRow>(`${selectScreens} WHERE s.tenant_id = $1 AND s.id = $2`, [
      tenantId,
      id,
    ]);
    return rows[0] && toRecord(rows[0]);
  }

  async getMany(tenantId: string, ids: readonly string[]): Promise<Map<string, ScreenRecord>> {
    const wanted = ids.filter(isUuid);
    if (!isUuid(tenantId) || wanted.length === 0) return new Map();
    const { rows } = await this.#pool.query<ScreenRow>(
      `${selectScreens} WHERE s.tenant_id = $1 AND s.id = ANY($2::uuid[])`,
      [tenantId, wanted],
    );
    return new Map(rows.map((row) => [row.id, toRecord(row)]));
  }

  /**
   * One statement: the tenant, group and text filters, the keyset position and the limit are all in
   * the query. `ORDER BY name COLLATE "C", id` walks `screens_tenant_id_name_id_index` (or, with a
   * group, `screens_group_id_name_id_index`) from the position on, so a page costs the same at
   * the end of a large tenant as at its start; the text filter is checked on the rows walked.
   */
  async page(tenantId: string, query: ScreenPageQuery): Promise<{ screens: ScreenRecord[]; more: boolean }> {
    const none = { screens: [], more: false };
    // A PostgreSQL text value cannot hold NUL, so no stored name, hardware id or tag contains one.
    if (!isUuid(tenantId) || query.text.includes("\0")) return none;
    if (query.after && (!isUuid(query.after.id) || query.after.name.includes("\0"))) return none;
    const params: unknown[] = [tenantId];
    const where = ["s.tenant_id = $1"];
    if (query.groupId) {
      if (!isUuid(query.groupId)) return none;
      params.push(query.groupId);
      where.push(`s.group_id = $${params.length}`);
    }
    if (query.text) {
      // ICU's root collation folds case for all of Unicode, as JavaScript's toLowerCase does; the
      // database's own collation may be "C", which folds ASCII only.
      params.push(containsPattern(query.text));
      const p = `$${params.length}::text COLLATE "und-x-icu"`;
      where.push(
        `(s.name ILIKE ${p} OR s.hardware_id ILIKE ${p}
          OR EXISTS (SELECT 1 FROM screen_tags t WHERE t.tenant_id = $1 AND t.screen_id = s.id AND t.tag ILIKE ${p}))`,
      );
    }
    if (query.after) {
      params.push(query.after.name, query.after.id);
      where.push(`(s.name COLLATE "C", s.id) > ($${params.length - 1}::text COLLATE "C", $${params.length}::uuid)`);
    }
    params.push(query.limit + 1);
    const { rows } = await this.#pool.query<ScreenRow>(
      `${selectScreens} WHERE ${where.join(" AND ")} ORDER BY s.name COLLATE "C", s.id LIMIT $${params.length}`,
      params,
    );
    return { screens: rows.slice(0, query.limit).map(toRecord), more: rows.length > query.limit };
  }

  async list(tenantId: string): Promise<ScreenRecord[]> {
    if (!isUuid(tenantId)) return [];
    const { rows } = await this.#pool.query<ScreenRow>(
      `${selectScreens} WHERE s.tenant_id = $1 ORDER BY s.name, s.id`,
      [tenantId],
    );
    return rows.map(toRecord);
  }

  async setTokenHash(tenantId: string, id: string, tokenHash: string | undefined): Promise<boolean> {
    if (!isUuid(tenantId) || !isUuid(id)) return false;
    const { rowCount } = await this.#pool.query("UPDATE screens SET token_hash = $3 WHERE tenant_id = $1 AND id = $2", [
      tenantId,
      id,
      tokenHash ?? null,
    ]);
    return rowCount === 1;
  }

  async update(
    tenantId: string,
    id: string,
    expectedRevision: number,
    edit: ScreenEdit,
  ): Promise<ScreenRecord | "stale" | "not-found"> {
    if (!isUuid(tenantId) || !isUuid(id)) return "not-found";
    return inTransaction(this.#pool, async (client) => {
      // A screen row written by other code has no device row yet: it starts at revision 1.
      await client.query(
        `INSERT INTO screen_devices (screen_id, first_seen_at)
         SELECT id, created_at FROM screens WHERE tenant_id = $1 AND id = $2 ON CONFLICT DO NOTHING`,
        [tenantId, id],
      );
      // The revision check and bump come first: it is the optimistic lock for the whole edit.
      const { rowCount } = await client.query(
        `UPDATE screen_devices d SET revision = d.revision + 1
           FROM screens s
          WHERE d.screen_id = s.id AND s.tenant_id = $1 AND s.id = $2 AND d.revision = $3`,
        [tenantId, id, expectedRevision],
      );
      if (rowCount !== 1) {
        const exists = await client.query("SELECT 1 FROM screens WHERE tenant_id = $1 AND id = $2", [tenantId, id]);
        return exists.rowCount === 1 ? "stale" : "not-found";
      }
      await client.query(
        `UPDATE screens SET name = $2, group_id = $3, timezone = $4, settings = settings || $5::jsonb WHERE id = $1`,
        [id, edit.name, nullIfEmpty(edit.groupId), edit.timezone, JSON.stringify(encodeScreenSettings(edit))],
      );
      await replaceTags(client, tenantId, id, edit.tags);
      const { rows } = await client.query<ScreenRow>(`${selectScreens} WHERE s.id = $1`, [id]);
      const row = rows[0];
      if (!row) throw new Error(`screen ${id} vanished inside its own update transaction`);
      return toRecord(row);
    });
  }

  async updateVersions(id: string, versions: { playerVersion: string; osVersion: string }): Promise<void> {
    if (!isUuid(id)) return;
    await this.#pool.query("UPDATE screen_devices SET player_version = $2, os_version = $3 WHERE screen_id = $1", [
      id,
      versions.playerVersion,
      versions.osVersion,
    ]);
  }

  /** Deletes the screen (tags, status, commands cascade) and its desired-state history. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    if (!isUuid(tenantId) || !isUuid(id)) return false;
    return inTransaction(this.#pool, async (client) => {
      const { rowCount } = await client.query("DELETE FROM screens WHERE tenant_id = $1 AND id = $2", [tenantId, id]);
      if (rowCount !== 1) return false;
      // desired_state is keyed by text ids (no foreign key): remove the history explicitly.
      await client.query("DELETE FROM desired_state WHERE screen_id = $1", [id]);
      return true;
    });
  }
}

/** GroupStore on the core's `groups` table (names unique per tenant by constraint). */
export class PgGroupStore implements GroupStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(group: GroupRecord): Promise<boolean> {
    try {
      const { rowCount } = await this.#pool.query(
        `INSERT INTO groups (id, tenant_id, name, created_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (tenant_id, name) DO NOTHING`,
        [group.id, group.tenantId, group.name],
      );
      return rowCount === 1;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  async get(tenantId: string, id: string): Promise<GroupRecord | undefined> {
    if (!isUuid(tenantId) || !isUuid(id)) return undefined;
    const { rows } = await this.#pool.query<{ id: string; tenant_id: string; name: string }>(
      "SELECT id, tenant_id, name FROM groups WHERE tenant_id = $1 AND id = $2",
      [tenantId, id],
    );
    const row = rows[0];
    return row && { id: row.id, tenantId: row.tenant_id, name: row.name };
  }

  async list(tenantId: string): Promise<Array<GroupRecord & { screenCount: number }>> {
    if (!isUuid(tenantId)) return [];
    const { rows } = await this.#pool.query<{ id: string; tenant_id: string; name: string; screen_count: number }>(
      `SELECT g.id, g.tenant_id, g.name, (SELECT count(*)::int FROM screens s WHERE s.group_id = g.id) AS screen_count
         FROM groups g WHERE g.tenant_id = $1 ORDER BY g.name`,
      [tenantId],
    );
    return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, name: row.name, screenCount: row.screen_count }));
  }

  async delete(tenantId: string, id: string): Promise<"deleted" | "not-found" | "not-empty"> {
    if (!isUuid(tenantId) || !isUuid(id)) return "not-found";
    const { rowCount } = await this.#pool.query(
      `DELETE FROM groups g WHERE g.id = $1 AND g.tenant_id = $2
          AND NOT EXISTS (SELECT 1 FROM screens s WHERE s.group_id = $1)`,
      [id, tenantId],
    );
    if (rowCount === 1) return "deleted";
    const exists = await this.#pool.query("SELECT 1 FROM groups WHERE id = $1 AND tenant_id = $2", [id, tenantId]);
    return exists.rowCount === 1 ? "not-empty" : "not-found";
  }
}
