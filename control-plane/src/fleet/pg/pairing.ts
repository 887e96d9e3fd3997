import { DeviceFactsSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import type {
  EnrollmentKeyRecord,
  EnrollmentKeyStore,
  PairingRecord,
  PairingStore,
  ScreenRecord,
} from "../fleet/ports.ts";
import { insertScreen, lockScreenByHardwareId } from "./screens.ts";
import { inTransaction, isUniqueViolation, isUuid, nullIfEmpty } from "./sql.ts";

interface PairingRow {
  code: string;
  secret_hash: string;
  hardware_id: string;
  facts: Buffer | null;
  ip: string;
  created_at: Date;
  expires_at: Date;
  claimed_tenant_id: string | null;
  claimed_screen_id: string | null;
  delivered: boolean;
}

function toPairing(row: PairingRow): PairingRecord {
  return {
    code: row.code,
    secretHash: row.secret_hash,
    hardwareId: row.hardware_id,
    facts: row.facts ? fromBinary(DeviceFactsSchema, row.facts) : undefined,
    ip: row.ip,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    claimedTenantId: row.claimed_tenant_id ?? undefined,
    claimedScreenId: row.claimed_screen_id ?? undefined,
    delivered: row.delivered,
  };
}

/**
 * PairingStore on `pairing_codes`. Live codes are unique through a partial unique index (unclaimed
 * rows); claim and delivery are single conditional UPDATEs, never read-then-write.
 */
export class PgPairingStore implements PairingStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(pairing: PairingRecord): Promise<boolean> {
    // An expired, unclaimed row would hold the code in the partial unique index: drop it first.
    await this.#pool.query(
      "DELETE FROM pairing_codes WHERE code = $1 AND claimed_screen_id IS NULL AND expires_at <= $2",
      [pairing.code, pairing.createdAt],
    );
    try {
      const { rowCount } = await this.#pool.query(
        `INSERT INTO pairing_codes (code, secret_hash, hardware_id, facts, ip, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [
          pairing.code,
          pairing.secretHash,
          pairing.hardwareId,
          pairing.facts ? Buffer.from(toBinary(DeviceFactsSchema, pairing.facts)) : null,
          pairing.ip,
          pairing.createdAt,
          pairing.expiresAt,
        ],
      );
      return rowCount === 1;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /**
   * The conditional UPDATE and the screen insert share one short transaction, so a claim whose
   * screen cannot be created leaves the code unclaimed. A device that already is a screen of the
   * tenant (same hardware id) is claimed for that screen, locked so a concurrent delete waits. SKIP LOCKED: a code another claim is holding answers "no such code" at once
   * instead of waiting on that transaction.
   */
  async claimAndCreate(
    code: string,
    claim: { tenantId: string; screenId: string },
    now: Date,
    screenFor: (pairing: PairingRecord) => ScreenRecord,
  ): Promise<ScreenRecord | undefined> {
    return inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<PairingRow>(
        `UPDATE pairing_codes SET claimed_tenant_id = $2, claimed_screen_id = $3
          WHERE id = (SELECT id FROM pairing_codes
                       WHERE code = $1 AND claimed_screen_id IS NULL AND expires_at > $4
                       FOR UPDATE SKIP LOCKED)
            AND claimed_screen_id IS NULL
          RETURNING *`,
        [code, claim.tenantId, claim.screenId, now],
      );
      const row = rows[0];
      if (!row) return undefined;
      const known = await lockScreenByHardwareId(client, claim.tenantId, row.hardware_id);
      if (known) {
        await client.query("UPDATE pairing_codes SET claimed_screen_id = $2 WHERE secret_hash = $1", [
          row.secret_hash,
          known.id,
        ]);
        return known;
      }
      const screen = screenFor(toPairing(row));
      if (screen.id !== claim.screenId || screen.tenantId !== claim.tenantId) {
        throw new Error("claimAndCreate: the screen must have the claimed id and tenant");
      }
      await insertScreen(client, screen);
      return screen;
    });
  }

  async findBySecretHash(secretHash: string): Promise<PairingRecord | undefined> {
    const { rows } = await this.#pool.query<PairingRow>("SELECT * FROM pairing_codes WHERE secret_hash = $1", [
      secretHash,
    ]);
    return rows[0] && toPairing(rows[0]);
  }

  /**
   * Deletes pairing rows that expired before `before` (claimed ones included: their screen exists
   * by then and CompletePairing long stopped polling). Returns how many.
   */
  async prune(before: Date): Promise<number> {
    const { rowCount } = await this.#pool.query("DELETE FROM pairing_codes WHERE expires_at < $1", [before]);
    return rowCount ?? 0;
  }

  async markDelivered(secretHash: string): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      `UPDATE pairing_codes SET delivered = true
        WHERE secret_hash = $1 AND claimed_screen_id IS NOT NULL AND NOT delivered`,
      [secretHash],
    );
    return rowCount === 1;
  }
}

interface KeyRow {
  id: string;
  tenant_id: string;
  name: string;
  group_id: string | null;
  secret_hash: string;
  max_uses: number;
  uses: number;
  expires_at: Date | null;
  created_at: Date;
  revoked_at: Date | null;
}

const keyColumns = "id, tenant_id, name, group_id, secret_hash, max_uses, uses, expires_at, created_at, revoked_at";

function keyRecord(row: KeyRow): EnrollmentKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    groupId: row.group_id ?? "",
    secretHash: row.secret_hash,
    maxUses: row.max_uses,
    uses: row.uses,
    expiresAt: row.expires_at ?? undefined,
    createdAt: row.created_at,
    revokedAt: row.revoked_at ?? undefined,
  };
}

/** EnrollmentKeyStore on `enrollment_keys`; `use` counts a use in one conditional UPDATE. */
export class PgEnrollmentKeyStore implements EnrollmentKeyStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(key: EnrollmentKeyRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO enrollment_keys (id, tenant_id, name, group_id, secret_hash, max_uses, uses, expires_at, created_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        key.id,
        key.tenantId,
        key.name,
        nullIfEmpty(key.groupId),
        key.secretHash,
        key.maxUses,
        key.uses,
        key.expiresAt ?? null,
        key.createdAt,
        key.revokedAt ?? null,
      ],
    );
  }

  async use(secretHash: string, now: Date): Promise<EnrollmentKeyRecord | undefined> {
    const { rows } = await this.#pool.query<KeyRow>(
      `UPDATE enrollment_keys SET uses = uses + 1
        WHERE secret_hash = $1 AND revoked_at IS NULL AND (max_uses = 0 OR uses < max_uses)
          AND (expires_at IS NULL OR expires_at > $2)
        RETURNING ${keyColumns}`,
      [secretHash, now],
    );
    return rows[0] && keyRecord(rows[0]);
  }

  async list(tenantId: string): Promise<EnrollmentKeyRecord[]> {
    const { rows } = await this.#pool.query<KeyRow>(
      `SELECT ${keyColumns} FROM enrollment_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id`,
      [tenantId],
    );
    return rows.map(keyRecord);
  }

  async revoke(tenantId: string, id: string, now: Date): Promise<EnrollmentKeyRecord | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.#pool.query<KeyRow>(
      `UPDATE enrollment_keys SET revoked_at = coalesce(revoked_at, $3)
        WHERE tenant_id = $1 AND id = $2
        RETURNING ${keyColumns}`,
      [tenantId, id, now],
    );
    return rows[0] && keyRecord(rows[0]);
  }
}
