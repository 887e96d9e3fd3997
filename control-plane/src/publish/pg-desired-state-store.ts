import { type DesiredState, DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import type { DesiredStateStore, InsertOutcome } from "../fleet/ports.ts";

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
 * DesiredStateStore in plain SQL on `pg`. `insertIfChanged` is one statement: it inserts version
 * N+1 only when the latest stored version is N and its hash differs; a concurrent insert of the
 * same N+1 loses on the primary key (unique_violation → "conflict", the caller retries).
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

  async insertIfChanged(
    screenId: string,
    expectedPreviousVersion: bigint,
    state: DesiredState,
  ): Promise<InsertOutcome> {
    if (state.version !== expectedPreviousVersion + 1n || state.screenId !== screenId) {
      throw new Error("insertIfChanged needs a state for this screen stamped with expectedPreviousVersion + 1");
    }
    try {
      const { rows } = await this.#pool.query<{ outcome: InsertOutcome }>(
        `WITH latest AS (
           SELECT version, content_hash FROM desired_state WHERE screen_id = $1 ORDER BY version DESC LIMIT 1
         ), current AS (
           SELECT coalesce((SELECT version FROM latest), 0) AS version, (SELECT content_hash FROM latest) AS content_hash
         ), inserted AS (
           INSERT INTO desired_state (screen_id, version, content_hash, document)
           SELECT $1, $2::bigint + 1, $3, $4 FROM current
            WHERE current.version = $2::bigint AND current.content_hash IS DISTINCT FROM $3
           RETURNING 1
         )
         SELECT CASE
                  WHEN EXISTS (SELECT 1 FROM inserted) THEN 'inserted'
                  WHEN (SELECT version FROM current) <> $2::bigint THEN 'conflict'
                  ELSE 'unchanged'
                END AS outcome`,
        [
          screenId,
          expectedPreviousVersion.toString(),
          state.contentHash,
          Buffer.from(toBinary(DesiredStateSchema, state)),
        ],
      );
      return rows[0]?.outcome ?? "conflict";
    } catch (error) {
      if ((error as { code?: string }).code === "23505") return "conflict";
      throw error;
    }
  }
}
