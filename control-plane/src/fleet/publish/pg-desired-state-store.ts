import { type DesiredState, DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import type { DesiredStateStore, EncodedVersion, VersionHead, VersionInsert } from "../fleet/ports.ts";

/**
 * The table behind {@link PgDesiredStateStore}, for the lead to fold into a migration. Versions
 * are unique per screen: that constraint, not transaction isolation, is what makes concurrent
 * publishes safe.
 */
export const desiredStateTableDdl = `
CREATE TABLE IF NOT EXISTS desired_state (
  screen_id    text        NOT NULL,
  version      bigint      NOT NULL CHECK (version >= 1),
  content_hash text        NOT NULL,
  document     bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (screen_id, version)
);`;

/**
 * DesiredStateStore in plain SQL on `pg`. `insertMany` is one statement for a whole batch: each
 * row is inserted only as its screen's latest version + 1, and a concurrent insert of the same
 * version loses on the primary key (DO NOTHING: the caller re-reads and retries).
 */
export class PgDesiredStateStore implements DesiredStateStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async latest(screenId: string): Promise<DesiredState | undefined> {
    const { rows } = await this.#pool.query<{ document: Buffer }>(
      "SELECT document FROM desired_state WHERE screen_id = $1 ORDER BY version DESC LIMIT 1",
      [screenId],
    );
    const row = rows[0];
    return row ? fromBinary(DesiredStateSchema, row.document) : undefined;
  }

  async heads(screenIds: readonly string[]): Promise<Map<string, VersionHead>> {
    const heads = new Map<string, VersionHead>();
    if (screenIds.length === 0) return heads;
    // One index probe per screen on the (screen_id, version) primary key.
    const { rows } = await this.#pool.query<{ screen_id: string; version: string; content_hash: string }>(
      `SELECT d.screen_id, d.version, d.content_hash
         FROM unnest($1::text[]) AS s(id)
         CROSS JOIN LATERAL (SELECT screen_id, version, content_hash FROM desired_state
                              WHERE screen_id = s.id ORDER BY version DESC LIMIT 1) d`,
      [screenIds],
    );
    for (const row of rows) heads.set(row.screen_id, { version: BigInt(row.version), contentHash: row.content_hash });
    return heads;
  }

  async latestEncoded(screenIds: readonly string[]): Promise<Map<string, Uint8Array>> {
    // Every stored version is >= 1 (the table's CHECK), so "newer than 0" is the latest of each screen.
    const latest = await this.newerThan(new Map(screenIds.map((screenId) => [screenId, 0n])));
    return new Map([...latest].map(([screenId, { document }]) => [screenId, document]));
  }

  async newerThan(sent: ReadonlyMap<string, bigint>): Promise<Map<string, EncodedVersion>> {
    const newer = new Map<string, EncodedVersion>();
    if (sent.size === 0) return newer;
    const { rows } = await this.#pool.query<{ screen_id: string; version: string; document: Buffer }>(
      `SELECT d.screen_id, d.version, d.document
         FROM unnest($1::text[], $2::bigint[]) AS s(id, sent)
         CROSS JOIN LATERAL (SELECT screen_id, version, document FROM desired_state
                              WHERE screen_id = s.id ORDER BY version DESC LIMIT 1) d
        WHERE d.version > s.sent`,
      [[...sent.keys()], [...sent.values()].map(String)],
    );
    for (const row of rows) newer.set(row.screen_id, { version: BigInt(row.version), document: row.document });
    return newer;
  }

  async insertMany(entries: readonly VersionInsert[]): Promise<Set<string>> {
    if (entries.length === 0) return new Set();
    // The "latest + 1" check and the primary key together are the optimistic lock: a concurrent
    // publish that stored the same version first makes this row a no-op (DO NOTHING), never a
    // duplicate or a gap.
    const { rows } = await this.#pool.query<{ screen_id: string }>(
      `INSERT INTO desired_state (screen_id, version, content_hash, document)
       SELECT v.screen_id, v.version, v.content_hash, v.document
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[]) AS v(screen_id, version, content_hash, document)
        WHERE v.version = coalesce((SELECT max(d.version) FROM desired_state d WHERE d.screen_id = v.screen_id), 0) + 1
       ON CONFLICT (screen_id, version) DO NOTHING
       RETURNING screen_id`,
      [
        entries.map((entry) => entry.screenId),
        entries.map((entry) => entry.version.toString()),
        entries.map((entry) => entry.contentHash),
        entries.map((entry) =>
          Buffer.from(entry.document.buffer, entry.document.byteOffset, entry.document.byteLength),
        ),
      ],
    );
    return new Set(rows.map((row) => row.screen_id));
  }
}
