import { type CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { HealthSchema } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type pg from "pg";
import type { CommandRecord, CommandStore, HealthSample, HealthStore, ScreenshotStore } from "../fleet/ports.ts";
import { isUuid } from "./sql.ts";

interface CommandRow {
  id: string;
  tenant_id: string;
  screen_id: string;
  kind: number;
  identify_seconds: number;
  issued_at: Date;
  expires_at: Date;
  issued_by: string;
  status: number;
  result_message: string;
  completed_at: Date | null;
  has_screenshot: boolean;
}

function toCommand(row: CommandRow): CommandRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    screenId: row.screen_id,
    kind: row.kind as CommandKind,
    identifySeconds: row.identify_seconds,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    issuedBy: row.issued_by,
    status: row.status as CommandStatus,
    resultMessage: row.result_message,
    completedAt: row.completed_at ?? undefined,
    hasScreenshot: row.has_screenshot,
  };
}

const commandPatchColumns = {
  status: "status",
  resultMessage: "result_message",
  completedAt: "completed_at",
  hasScreenshot: "has_screenshot",
} as const;

/** CommandStore on `commands` (the record of what was asked and what the screen answered). */
export class PgCommandStore implements CommandStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async insert(commands: readonly CommandRecord[]): Promise<void> {
    if (commands.length === 0) return;
    const column = <K extends keyof CommandRecord>(key: K) => commands.map((command) => command[key]);
    await this.#pool.query(
      `INSERT INTO commands (id, tenant_id, screen_id, kind, identify_seconds, issued_at, expires_at, issued_by, status,
                             result_message, completed_at, has_screenshot)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::int[], $6::timestamptz[],
                            $7::timestamptz[], $8::text[], $9::int[], $10::text[], $11::timestamptz[], $12::bool[])`,
      [
        column("id"),
        column("tenantId"),
        column("screenId"),
        column("kind"),
        column("identifySeconds"),
        column("issuedAt"),
        column("expiresAt"),
        column("issuedBy"),
        column("status"),
        column("resultMessage"),
        commands.map((command) => command.completedAt ?? null),
        column("hasScreenshot"),
      ],
    );
  }

  async queuedMany(screenIds: readonly string[]): Promise<Map<string, CommandRecord[]>> {
    const queued = new Map<string, CommandRecord[]>();
    const wanted = screenIds.filter(isUuid);
    if (wanted.length === 0) return queued;
    // commands_screen_id_status_index: one index range per screen.
    const { rows } = await this.#pool.query<CommandRow>(
      "SELECT * FROM commands WHERE screen_id = ANY($1::uuid[]) AND status = $2 ORDER BY screen_id, issued_at, id",
      [wanted, CommandStatus.QUEUED],
    );
    for (const row of rows) {
      const command = toCommand(row);
      const list = queued.get(command.screenId);
      if (list) list.push(command);
      else queued.set(command.screenId, [command]);
    }
    return queued;
  }

  async update(
    screenId: string,
    id: string,
    patch: Partial<Pick<CommandRecord, "status" | "resultMessage" | "completedAt" | "hasScreenshot">>,
  ): Promise<boolean> {
    if (!isUuid(screenId) || !isUuid(id)) return false;
    const keys = (Object.keys(patch) as Array<keyof typeof commandPatchColumns>).filter(
      (key) => key in commandPatchColumns,
    );
    if (keys.length === 0) {
      const found = await this.#pool.query("SELECT 1 FROM commands WHERE id = $1 AND screen_id = $2", [id, screenId]);
      return found.rowCount === 1;
    }
    const sets = keys.map((key, index) =>
      key === "status"
        ? // DELIVERED only moves a command on from QUEUED (see CommandStore.update).
          `status = CASE WHEN $${index + 3} = ${CommandStatus.DELIVERED} AND status <> ${CommandStatus.QUEUED} THEN status ELSE $${index + 3} END`
        : `${commandPatchColumns[key]} = $${index + 3}`,
    );
    const { rowCount } = await this.#pool.query(
      `UPDATE commands SET ${sets.join(", ")} WHERE id = $1 AND screen_id = $2`,
      [id, screenId, ...keys.map((key) => patch[key] ?? null)],
    );
    return rowCount === 1;
  }

  async get(tenantId: string, id: string): Promise<CommandRecord | undefined> {
    if (!isUuid(tenantId) || !isUuid(id)) return undefined;
    const { rows } = await this.#pool.query<CommandRow>("SELECT * FROM commands WHERE tenant_id = $1 AND id = $2", [
      tenantId,
      id,
    ]);
    return rows[0] && toCommand(rows[0]);
  }

  async getMany(tenantId: string, ids: readonly string[]): Promise<Map<string, CommandRecord>> {
    const wanted = ids.filter(isUuid);
    if (!isUuid(tenantId) || wanted.length === 0) return new Map();
    const { rows } = await this.#pool.query<CommandRow>(
      "SELECT * FROM commands WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
      [tenantId, wanted],
    );
    return new Map(rows.map((row) => [row.id, toCommand(row)]));
  }

  async list(tenantId: string, screenId: string, limit: number): Promise<CommandRecord[]> {
    if (!isUuid(tenantId) || !isUuid(screenId)) return [];
    const { rows } = await this.#pool.query<CommandRow>(
      "SELECT * FROM commands WHERE tenant_id = $1 AND screen_id = $2 ORDER BY issued_at DESC, id LIMIT $3",
      [tenantId, screenId, limit],
    );
    return rows.map(toCommand);
  }
}

/** ScreenshotStore on `screenshots` (one PNG per SCREENSHOT command). */
export class PgScreenshotStore implements ScreenshotStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async save(commandId: string, png: Uint8Array, takenAt: Date): Promise<void> {
    await this.#pool.query(
      `INSERT INTO screenshots (command_id, png, taken_at) VALUES ($1, $2, $3)
       ON CONFLICT (command_id) DO UPDATE SET png = excluded.png, taken_at = excluded.taken_at`,
      [commandId, Buffer.from(png), takenAt],
    );
  }

  async get(commandId: string): Promise<{ png: Uint8Array; takenAt: Date } | undefined> {
    if (!isUuid(commandId)) return undefined;
    const { rows } = await this.#pool.query<{ png: Buffer; taken_at: Date }>(
      "SELECT png, taken_at FROM screenshots WHERE command_id = $1",
      [commandId],
    );
    const row = rows[0];
    return row && { png: new Uint8Array(row.png), takenAt: row.taken_at };
  }
}

/**
 * HealthStore on `health_samples`. Appends (one per heartbeat) are buffered and {@link flush}
 * inserts them in one statement; `range` includes the buffered samples of this process.
 */
export class PgHealthStore implements HealthStore {
  readonly #pool: pg.Pool;
  #pending: Array<{ screenId: string; sample: HealthSample }> = [];

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async append(screenId: string, sample: HealthSample): Promise<void> {
    if (isUuid(screenId)) this.#pending.push({ screenId, sample });
  }

  async range(screenId: string, from: Date, to: Date): Promise<HealthSample[]> {
    if (!isUuid(screenId)) return [];
    const { rows } = await this.#pool.query<{ at: Date; health: Buffer }>(
      "SELECT at, health FROM health_samples WHERE screen_id = $1 AND at >= $2 AND at < $3 ORDER BY at, id",
      [screenId, from, to],
    );
    const stored = rows.map((row) => ({ at: row.at, health: fromBinary(HealthSchema, row.health) }));
    const pending = this.#pending
      .filter((entry) => entry.screenId === screenId && entry.sample.at >= from && entry.sample.at < to)
      .map((entry) => entry.sample);
    return [...stored, ...pending].sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  async prune(before: Date): Promise<number> {
    const { rowCount } = await this.#pool.query("DELETE FROM health_samples WHERE at < $1", [before]);
    return rowCount ?? 0;
  }

  /** Inserts every buffered sample in one statement (samples of deleted screens are dropped). */
  async flush(): Promise<number> {
    if (this.#pending.length === 0) return 0;
    const batch = this.#pending;
    this.#pending = [];
    try {
      const { rowCount } = await this.#pool.query(
        `INSERT INTO health_samples (screen_id, at, health)
         SELECT v.screen_id, v.at, v.health
           FROM unnest($1::uuid[], $2::timestamptz[], $3::bytea[]) WITH ORDINALITY AS v(screen_id, at, health, n)
          WHERE EXISTS (SELECT 1 FROM screens s WHERE s.id = v.screen_id)
          ORDER BY v.n`,
        [
          batch.map((entry) => entry.screenId),
          batch.map((entry) => entry.sample.at),
          batch.map((entry) => Buffer.from(toBinary(HealthSchema, entry.sample.health))),
        ],
      );
      return rowCount ?? 0;
    } catch (error) {
      this.#pending = [...batch, ...this.#pending];
      throw error;
    }
  }
}
