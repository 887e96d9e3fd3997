import { CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { type DesiredState, DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import type { PlaylistRecord, RuleRecord, ScreenFacts, TargetSelector } from "../../src/core/desired-state/index.ts";
import type {
  AssetCatalog,
  CommandRecord,
  CommandStore,
  DesiredStateStore,
  EncodedVersion,
  EnrollmentKeyRecord,
  EnrollmentKeyStore,
  FleetStores,
  GroupRecord,
  GroupStore,
  HealthSample,
  HealthStore,
  PairingRecord,
  PairingStore,
  PlayEventStore,
  PublishSources,
  ScreenCursor,
  ScreenEdit,
  ScreenPageQuery,
  ScreenRecord,
  ScreenStatus,
  ScreenStatusStore,
  ScreenStore,
  ScreenshotStore,
  TenantPublishSources,
  VersionHead,
  VersionInsert,
} from "../../src/fleet/fleet/index.ts";
import { emptyStatus } from "../../src/fleet/fleet/index.ts";

/*
 * These fakes follow the PostgreSQL stores in src/fleet/pg (the reference); the contract suites in
 * test/fleet-pg/*.contract.test.ts run the same checks over both. What the database enforces with
 * constraints (unique keys, foreign-key cascades) and what it does by returning fresh rows (no
 * object shared with the caller, tags read back sorted) is done here by hand.
 */

/** Yields to the event loop, so concurrent callers interleave as they would against a database. */
const eventLoopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Compares by Unicode code point, as PostgreSQL's `COLLATE "C"` does (it compares UTF-8 bytes, and so does this). */
function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Compares dates, then ids (what `ORDER BY <time>, id` does); `direction` -1 puts the newest first. */
function byTimeThenId<T extends { id: string }>(time: (row: T) => Date, direction: 1 | -1) {
  return (a: T, b: T) =>
    direction * (time(a).getTime() - time(b).getTime()) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The error PostgreSQL's unique constraints raise (SQLSTATE 23505, the `code` the pg driver sets and
 * `isUniqueViolation` reads), named after the constraint the database would name.
 */
function uniqueViolation(constraint: string): Error {
  return Object.assign(new Error(`duplicate key value violates unique constraint "${constraint}"`), {
    code: "23505",
    constraint,
  });
}

/**
 * The order of ScreenStore.page: name by Unicode code point (what PostgreSQL's `COLLATE "C"` does:
 * it compares UTF-8 bytes, and so does this), then id.
 */
export function compareScreenOrder(a: ScreenCursor, b: ScreenCursor): number {
  return compareCodePoints(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A screen as the database reads it back: a fresh object, tags sorted (`array_agg(tag ORDER BY tag)`). */
function screenCopy(screen: ScreenRecord): ScreenRecord {
  const copy = structuredClone(screen);
  copy.tags.sort(compareCodePoints);
  return copy;
}

/** Throws the unique violation `screen_tags (screen_id, tag)` raises for a repeated tag. */
function checkTags(tags: readonly string[]): void {
  if (new Set(tags).size !== tags.length) throw uniqueViolation("screen_tags_screen_id_tag_unique");
}

/**
 * In-memory ScreenStore. Unique id, token hash and (tenant, hardware id) are checked as the table's
 * constraints check them; {@link onDelete} listeners play the foreign keys that cascade from a
 * screen (createMemoryFleetStores wires the other stores to it).
 */
export class MemoryScreenStore implements ScreenStore {
  readonly rows = new Map<string, ScreenRecord>();
  readonly #byToken = new Map<string, string>();
  readonly #byHardware = new Map<string, string>();
  readonly #onDelete: Array<(screenId: string) => void> = [];

  /** Calls `listener` with the id of every deleted screen (what `ON DELETE CASCADE` removes). */
  onDelete(listener: (screenId: string) => void): void {
    this.#onDelete.push(listener);
  }

  async create(screen: ScreenRecord) {
    if (this.rows.has(screen.id)) throw uniqueViolation("screens_pkey");
    if (this.#byHardware.has(`${screen.tenantId}/${screen.hardwareId}`)) {
      throw uniqueViolation("screens_tenant_id_hardware_id_unique");
    }
    if (screen.tokenHash && this.#byToken.has(screen.tokenHash)) throw uniqueViolation("screens_token_hash_unique");
    checkTags(screen.tags);
    this.rows.set(screen.id, screenCopy(screen));
    this.#byHardware.set(`${screen.tenantId}/${screen.hardwareId}`, screen.id);
    if (screen.tokenHash) this.#byToken.set(screen.tokenHash, screen.id);
  }
  async findByTokenHash(tokenHash: string) {
    const row = this.rows.get(this.#byToken.get(tokenHash) ?? "");
    return row?.tokenHash === tokenHash ? screenCopy(row) : undefined;
  }
  async findByHardwareId(tenantId: string, hardwareId: string) {
    const row = this.rows.get(this.#byHardware.get(`${tenantId}/${hardwareId}`) ?? "");
    return row ? screenCopy(row) : undefined;
  }
  async get(tenantId: string, id: string) {
    const row = this.rows.get(id);
    return row && row.tenantId === tenantId ? screenCopy(row) : undefined;
  }
  async getMany(tenantId: string, ids: readonly string[]) {
    const found = new Map<string, ScreenRecord>();
    for (const id of ids) {
      const row = this.rows.get(id);
      if (row && row.tenantId === tenantId) found.set(id, screenCopy(row));
    }
    return found;
  }
  /**
   * By name, then id. PostgreSQL sorts `list` by the database's collation, which is "C" (code-point
   * order) on the test databases and the embedded server; this compares code points the same way.
   */
  async list(tenantId: string) {
    return [...this.rows.values()]
      .filter((row) => row.tenantId === tenantId)
      .sort(compareScreenOrder)
      .map(screenCopy);
  }
  async page(tenantId: string, query: ScreenPageQuery) {
    const text = query.text.toLowerCase();
    const { after } = query;
    const matching = [...this.rows.values()]
      .filter(
        (row) =>
          row.tenantId === tenantId &&
          (!query.groupId || row.groupId === query.groupId) &&
          (!text ||
            row.name.toLowerCase().includes(text) ||
            row.hardwareId.toLowerCase().includes(text) ||
            row.tags.some((tag) => tag.toLowerCase().includes(text))) &&
          (!after || compareScreenOrder(row, after) > 0),
      )
      .sort(compareScreenOrder);
    return {
      screens: matching.slice(0, query.limit).map(screenCopy),
      more: matching.length > query.limit,
    };
  }
  async setTokenHash(tenantId: string, id: string, tokenHash: string | undefined) {
    const row = this.rows.get(id);
    if (!row || row.tenantId !== tenantId) return false;
    const holder = tokenHash ? this.#byToken.get(tokenHash) : undefined;
    if (holder !== undefined && holder !== id) throw uniqueViolation("screens_token_hash_unique");
    if (row.tokenHash) this.#byToken.delete(row.tokenHash);
    row.tokenHash = tokenHash;
    if (tokenHash) this.#byToken.set(tokenHash, id);
    return true;
  }
  async update(tenantId: string, id: string, expectedRevision: number, edit: ScreenEdit) {
    await Promise.resolve();
    const row = this.rows.get(id);
    if (!row || row.tenantId !== tenantId) return "not-found" as const;
    if (row.revision !== expectedRevision) return "stale" as const;
    // PostgreSQL rolls the whole edit back when the tags violate their constraint.
    checkTags(edit.tags);
    const { name, groupId, tags, timezone, volumePercent, orientation, displayHours } = edit;
    const fields = { name, groupId, tags, timezone, volumePercent, orientation, displayHours };
    const next = screenCopy({ ...row, ...fields, revision: row.revision + 1 });
    this.rows.set(id, next);
    return screenCopy(next);
  }
  async updateVersions(id: string, versions: { playerVersion: string; osVersion: string }) {
    const row = this.rows.get(id);
    if (row) Object.assign(row, { playerVersion: versions.playerVersion, osVersion: versions.osVersion });
  }
  async delete(tenantId: string, id: string) {
    const row = this.rows.get(id);
    if (!row || row.tenantId !== tenantId) return false;
    this.rows.delete(id);
    this.#byHardware.delete(`${row.tenantId}/${row.hardwareId}`);
    if (row.tokenHash) this.#byToken.delete(row.tokenHash);
    for (const listener of this.#onDelete) listener(id);
    return true;
  }
}

/** In-memory GroupStore (counts screens from the screen store). */
export class MemoryGroupStore implements GroupStore {
  readonly rows = new Map<string, GroupRecord>();
  readonly #screens: MemoryScreenStore;
  constructor(screens: MemoryScreenStore) {
    this.#screens = screens;
  }
  async create(group: GroupRecord) {
    // The primary key and unique (tenant_id, name): PostgreSQL's store answers false for both.
    if (this.rows.has(group.id)) return false;
    for (const row of this.rows.values()) if (row.tenantId === group.tenantId && row.name === group.name) return false;
    this.rows.set(group.id, { ...group });
    return true;
  }
  async get(tenantId: string, id: string) {
    const row = this.rows.get(id);
    return row && row.tenantId === tenantId ? { ...row } : undefined;
  }
  /** By name in code-point order (the "C" collation of the test databases; see MemoryScreenStore.list). */
  async list(tenantId: string) {
    const screens = [...this.#screens.rows.values()];
    return [...this.rows.values()]
      .filter((row) => row.tenantId === tenantId)
      .sort((a, b) => compareCodePoints(a.name, b.name))
      .map((row) => ({ ...row, screenCount: screens.filter((s) => s.groupId === row.id).length }));
  }
  async delete(tenantId: string, id: string) {
    const row = this.rows.get(id);
    if (!row || row.tenantId !== tenantId) return "not-found" as const;
    for (const screen of this.#screens.rows.values()) if (screen.groupId === id) return "not-empty" as const;
    this.rows.delete(id);
    return "deleted" as const;
  }
}

/**
 * In-memory PairingStore; claim and delivery check-and-set synchronously (like one UPDATE). Rows
 * are keyed by secret hash (unique, as in `pairing_codes`): a code may be drawn again once its
 * earlier pairing is claimed, and the claimed pairing stays findable by its secret.
 */
export class MemoryPairingStore implements PairingStore {
  readonly rows = new Map<string, PairingRecord>();
  readonly #tick: () => Promise<void>;
  readonly #screens: MemoryScreenStore;
  constructor(screens: MemoryScreenStore, tick = eventLoopTurn) {
    this.#screens = screens;
    this.#tick = tick;
  }
  async create(pairing: PairingRecord) {
    // An expired, unclaimed pairing of the code is dropped first, as PgPairingStore.create does.
    for (const [key, row] of this.rows) {
      if (row.code === pairing.code && !row.claimedScreenId && row.expiresAt <= pairing.createdAt)
        this.rows.delete(key);
    }
    if (this.rows.has(pairing.secretHash)) return false;
    // The partial unique index: one unclaimed pairing per code.
    for (const row of this.rows.values()) if (row.code === pairing.code && !row.claimedScreenId) return false;
    this.rows.set(pairing.secretHash, structuredClone(pairing));
    return true;
  }
  async claimAndCreate(
    code: string,
    claim: { tenantId: string; screenId: string },
    now: Date,
    screenFor: (pairing: PairingRecord) => ScreenRecord,
  ) {
    await this.#tick();
    const row = [...this.rows.values()].find((r) => r.code === code && !r.claimedScreenId && r.expiresAt > now);
    if (!row) return undefined;
    // Claimed before the screen is created (the UPDATE comes first), undone when the insert fails.
    row.claimedTenantId = claim.tenantId;
    const known = await this.#screens.findByHardwareId(claim.tenantId, row.hardwareId);
    if (known) {
      row.claimedScreenId = known.id;
      return known;
    }
    row.claimedScreenId = claim.screenId;
    try {
      const screen = screenFor(structuredClone(row));
      if (screen.id !== claim.screenId || screen.tenantId !== claim.tenantId) {
        throw new Error("claimAndCreate: the screen must have the claimed id and tenant");
      }
      await this.#screens.create(screen);
      return screen;
    } catch (error) {
      row.claimedTenantId = undefined;
      row.claimedScreenId = undefined;
      throw error;
    }
  }
  async findBySecretHash(secretHash: string) {
    const row = this.rows.get(secretHash);
    return row ? structuredClone(row) : undefined;
  }
  async markDelivered(secretHash: string) {
    await this.#tick();
    const row = this.rows.get(secretHash);
    if (!row?.claimedScreenId || row.delivered) return false;
    row.delivered = true;
    return true;
  }
}

/** In-memory EnrollmentKeyStore (unique id and secret hash, as in `enrollment_keys`). */
export class MemoryEnrollmentKeyStore implements EnrollmentKeyStore {
  readonly rows = new Map<string, EnrollmentKeyRecord>();
  async create(key: EnrollmentKeyRecord) {
    if ([...this.rows.values()].some((row) => row.id === key.id)) throw uniqueViolation("enrollment_keys_pkey");
    if (this.rows.has(key.secretHash)) throw uniqueViolation("enrollment_keys_secret_hash_unique");
    this.rows.set(key.secretHash, structuredClone(key));
  }
  async use(secretHash: string, now: Date) {
    const row = this.rows.get(secretHash);
    if (
      !row ||
      row.revokedAt ||
      (row.expiresAt && row.expiresAt <= now) ||
      (row.maxUses > 0 && row.uses >= row.maxUses)
    )
      return undefined;
    row.uses++;
    return structuredClone(row);
  }
  async list(tenantId: string) {
    return [...this.rows.values()]
      .filter((row) => row.tenantId === tenantId)
      .sort(byTimeThenId((row) => row.createdAt, -1))
      .map((row) => structuredClone(row));
  }
  async revoke(tenantId: string, id: string, now: Date) {
    const row = [...this.rows.values()].find((r) => r.tenantId === tenantId && r.id === id);
    if (!row) return undefined;
    row.revokedAt ??= now;
    return structuredClone(row);
  }
}

/**
 * In-memory DesiredStateStore with the same optimistic check as the SQL one. `versions` holds the
 * decoded documents for tests to inspect; heads and encoded documents come from what was stored
 * (the entry's version, hash and bytes), as the `desired_state` columns do.
 */
export class MemoryDesiredStateStore implements DesiredStateStore {
  readonly versions = new Map<string, DesiredState[]>();
  readonly #stored = new Map<string, VersionInsert[]>();
  readonly #tick: () => Promise<void>;
  constructor(tick = eventLoopTurn) {
    this.#tick = tick;
  }
  async latest(screenId: string) {
    await this.#tick();
    const last = this.#stored.get(screenId)?.at(-1);
    return last ? fromBinary(DesiredStateSchema, last.document) : undefined;
  }
  async heads(screenIds: readonly string[]) {
    await this.#tick();
    const heads = new Map<string, VersionHead>();
    for (const id of screenIds) {
      const last = this.#stored.get(id)?.at(-1);
      if (last) heads.set(id, { version: last.version, contentHash: last.contentHash });
    }
    return heads;
  }
  async newerThan(sent: ReadonlyMap<string, bigint>) {
    await this.#tick();
    const newer = new Map<string, EncodedVersion>();
    for (const [id, version] of sent) {
      const last = this.#stored.get(id)?.at(-1);
      if (last && last.version > version) newer.set(id, { version: last.version, document: last.document.slice() });
    }
    return newer;
  }
  async latestEncoded(screenIds: readonly string[]) {
    await this.#tick();
    const documents = new Map<string, Uint8Array>();
    for (const id of screenIds) {
      const last = this.#stored.get(id)?.at(-1);
      if (last) documents.set(id, last.document.slice());
    }
    return documents;
  }
  /**
   * Like the one INSERT … SELECT: every entry is checked against the heads as they were before the
   * batch (a batch holding versions n+1 and n+2 of a screen stores only n+1), and of two entries
   * with the same version the first wins (the primary key).
   */
  async insertMany(entries: readonly VersionInsert[]) {
    await this.#tick();
    const before = new Map(entries.map((e) => [e.screenId, this.#stored.get(e.screenId)?.at(-1)?.version ?? 0n]));
    const inserted = new Set<string>();
    for (const entry of entries) {
      const list = this.#stored.get(entry.screenId) ?? [];
      if (entry.version !== (before.get(entry.screenId) ?? 0n) + 1n || list.at(-1)?.version === entry.version) continue;
      list.push({ ...entry, document: entry.document.slice() });
      this.#stored.set(entry.screenId, list);
      const decoded = this.versions.get(entry.screenId) ?? [];
      decoded.push(fromBinary(DesiredStateSchema, entry.document));
      this.versions.set(entry.screenId, decoded);
      inserted.add(entry.screenId);
    }
    return inserted;
  }
  /** Drops a deleted screen's history (PgScreenStore.delete does, in the same transaction). */
  forget(screenId: string): void {
    this.#stored.delete(screenId);
    this.versions.delete(screenId);
  }
}

/**
 * In-memory ScreenStatusStore. Given the screen store, it writes no desired or applied version for
 * a screen that does not exist (PostgreSQL's `WHERE EXISTS (SELECT 1 FROM screens …)`).
 */
export class MemoryScreenStatusStore implements ScreenStatusStore {
  readonly rows = new Map<string, ScreenStatus>();
  readonly #screens: MemoryScreenStore | undefined;
  constructor(screens?: MemoryScreenStore) {
    this.#screens = screens;
  }
  #exists(screenId: string): boolean {
    return this.#screens === undefined || this.#screens.rows.has(screenId);
  }
  async get(screenId: string) {
    const row = this.rows.get(screenId);
    return row ? structuredClone(row) : undefined;
  }
  async getMany(screenIds: readonly string[]) {
    const found = new Map<string, ScreenStatus>();
    for (const id of screenIds) {
      const row = this.rows.get(id);
      if (row) found.set(id, structuredClone(row));
    }
    return found;
  }
  async patch(screenId: string, patch: Partial<Omit<ScreenStatus, "screenId">>) {
    this.rows.set(screenId, { ...(this.rows.get(screenId) ?? emptyStatus(screenId, 15)), ...structuredClone(patch) });
  }
  async raiseDesiredMany(entries: ReadonlyArray<{ screenId: string; version: bigint }>, at: Date) {
    for (const { screenId, version } of entries) {
      if (!this.#exists(screenId)) continue;
      const row = this.rows.get(screenId) ?? emptyStatus(screenId, 15);
      if (version > row.desiredVersion) this.rows.set(screenId, { ...row, desiredVersion: version, desiredAt: at });
    }
  }
  async recordApplied(screenId: string, version: bigint, at: Date) {
    if (!this.#exists(screenId)) return undefined;
    const row = this.rows.get(screenId) ?? emptyStatus(screenId, 15);
    if (version <= row.appliedVersion) return undefined;
    // `last_seen_at = greatest(last_seen_at, at)`: a late ack never moves it back.
    const lastSeenAt = row.lastSeenAt && row.lastSeenAt > at ? row.lastSeenAt : at;
    this.rows.set(screenId, { ...row, appliedVersion: version, lastSeenAt });
    return { desiredVersion: row.desiredVersion, desiredAt: row.desiredAt };
  }
  async delete(screenId: string) {
    this.rows.delete(screenId);
  }
}

/** In-memory CommandStore (unique ids; a batch with a taken id stores nothing, as one INSERT). */
export class MemoryCommandStore implements CommandStore {
  readonly rows = new Map<string, CommandRecord>();
  async insert(commands: readonly CommandRecord[]) {
    const ids = new Set<string>();
    for (const command of commands) {
      if (this.rows.has(command.id) || ids.has(command.id)) throw uniqueViolation("commands_pkey");
      ids.add(command.id);
    }
    for (const command of commands) this.rows.set(command.id, structuredClone(command));
  }
  async queuedMany(screenIds: readonly string[]) {
    const queued = new Map<string, CommandRecord[]>();
    const wanted = new Set(screenIds);
    const rows = [...this.rows.values()]
      .filter((row) => wanted.has(row.screenId) && row.status === CommandStatus.QUEUED)
      .sort(byTimeThenId((row) => row.issuedAt, 1));
    for (const row of rows) queued.set(row.screenId, [...(queued.get(row.screenId) ?? []), structuredClone(row)]);
    return queued;
  }
  async update(
    screenId: string,
    id: string,
    patch: Partial<Pick<CommandRecord, "status" | "resultMessage" | "completedAt" | "hasScreenshot">>,
  ) {
    const row = this.rows.get(id);
    if (!row || row.screenId !== screenId) return false;
    const late = patch.status === CommandStatus.DELIVERED && row.status !== CommandStatus.QUEUED;
    Object.assign(row, structuredClone(patch), late ? { status: row.status } : {});
    return true;
  }
  async get(tenantId: string, id: string) {
    const row = this.rows.get(id);
    return row && row.tenantId === tenantId ? structuredClone(row) : undefined;
  }
  async getMany(tenantId: string, ids: readonly string[]) {
    const found = new Map<string, CommandRecord>();
    for (const id of ids) {
      const row = this.rows.get(id);
      if (row && row.tenantId === tenantId) found.set(id, structuredClone(row));
    }
    return found;
  }
  async list(tenantId: string, screenId: string, limit: number) {
    return [...this.rows.values()]
      .filter((row) => row.tenantId === tenantId && row.screenId === screenId)
      .sort(byTimeThenId((row) => row.issuedAt, -1))
      .slice(0, limit)
      .map((row) => structuredClone(row));
  }
  /** Drops a deleted screen's commands (the foreign key cascades); returns their ids. */
  forget(screenId: string): string[] {
    const gone = [...this.rows.values()].filter((row) => row.screenId === screenId).map((row) => row.id);
    for (const id of gone) this.rows.delete(id);
    return gone;
  }
}

/** In-memory ScreenshotStore (a save replaces the command's earlier screenshot). */
export class MemoryScreenshotStore implements ScreenshotStore {
  readonly rows = new Map<string, { png: Uint8Array; takenAt: Date }>();
  async save(commandId: string, png: Uint8Array, takenAt: Date) {
    this.rows.set(commandId, { png: png.slice(), takenAt: new Date(takenAt) });
  }
  async get(commandId: string) {
    const row = this.rows.get(commandId);
    return row && { png: row.png.slice(), takenAt: new Date(row.takenAt) };
  }
}

/** In-memory HealthStore. */
export class MemoryHealthStore implements HealthStore {
  readonly rows = new Map<string, HealthSample[]>();
  async append(screenId: string, sample: HealthSample) {
    const list = this.rows.get(screenId) ?? [];
    list.push(structuredClone(sample));
    this.rows.set(screenId, list);
  }
  /** In time order whatever the order of the appends (`ORDER BY at`; a stable sort keeps ties in append order). */
  async range(screenId: string, from: Date, to: Date) {
    return (this.rows.get(screenId) ?? [])
      .filter((sample) => sample.at >= from && sample.at < to)
      .sort((a, b) => a.at.getTime() - b.at.getTime())
      .map((sample) => structuredClone(sample));
  }
  async prune(before: Date) {
    let removed = 0;
    for (const [screenId, list] of this.rows) {
      const kept = list.filter((sample) => sample.at >= before);
      removed += list.length - kept.length;
      this.rows.set(screenId, kept);
    }
    return removed;
  }
}

/**
 * In-memory PlayEventStore: dedup by screen, started_at and event id, as the SQL store's key;
 * events with no started_at or no event id are refused (not stored, not counted), as there.
 */
export class MemoryPlayEventStore implements PlayEventStore {
  readonly ids = new Set<string>();
  async insertMany(
    _tenantId: string,
    screenId: string,
    events: readonly { eventId: string; startedAt?: { seconds: bigint; nanos: number } }[],
  ) {
    let inserted = 0;
    for (const event of events) {
      if (!event.startedAt || event.eventId === "") continue;
      const key = `${screenId}/${event.startedAt.seconds}.${event.startedAt.nanos}/${event.eventId}`;
      if (this.ids.has(key)) continue;
      this.ids.add(key);
      inserted++;
    }
    return inserted;
  }
  /** Drops a deleted screen's events (the foreign key cascades). */
  forget(screenId: string): void {
    for (const key of this.ids) if (key.startsWith(`${screenId}/`)) this.ids.delete(key);
  }
}

/** Publish inputs a test sets per tenant; screens come from the screen store. */
export class MemoryPublishSources implements PublishSources {
  readonly #screens: MemoryScreenStore;
  readonly tenants = new Map<
    string,
    {
      rules: RuleRecord[];
      defaults: Array<{ target: TargetSelector; playlistId: string }>;
      playlists: Map<string, PlaylistRecord>;
    }
  >();
  constructor(screens: MemoryScreenStore) {
    this.#screens = screens;
  }
  async forTenant(tenantId: string): Promise<TenantPublishSources> {
    const sources = this.tenants.get(tenantId) ?? { rules: [], defaults: [], playlists: new Map() };
    const screens: ScreenFacts[] = (await this.#screens.list(tenantId)).map((screen) => ({
      id: screen.id,
      name: screen.name,
      groupId: screen.groupId,
      tags: screen.tags,
      timezone: screen.timezone,
      volumePercent: screen.volumePercent,
      orientation: screen.orientation,
      displayHours: screen.displayHours,
    }));
    return {
      screens,
      rules: [...sources.rules],
      defaults: [...sources.defaults],
      playlists: new Map(sources.playlists),
    };
  }
  /** Makes every screen of the tenant play one playlist of the given clips by default. */
  setDefaultPlaylist(tenantId: string, clips: PlaylistRecord["clips"], name = "Default"): void {
    this.tenants.set(tenantId, {
      rules: [],
      defaults: [{ target: { kind: "tenant" }, playlistId: "p-default" }],
      playlists: new Map([["p-default", { id: "p-default", name, clips }]]),
    });
  }
}

/** In-memory AssetCatalog: tenant → sha256s. */
export class MemoryAssetCatalog implements AssetCatalog {
  readonly owned = new Map<string, Set<string>>();
  add(tenantId: string, sha256: string): void {
    const set = this.owned.get(tenantId) ?? new Set();
    set.add(sha256);
    this.owned.set(tenantId, set);
  }
  async tenantHasAsset(tenantId: string, sha256: string) {
    return this.owned.get(tenantId)?.has(sha256) ?? false;
  }
}

/** Every in-memory store, typed concretely so tests can inspect and seed them. */
export interface MemoryFleetStores extends FleetStores {
  screens: MemoryScreenStore;
  groups: MemoryGroupStore;
  pairings: MemoryPairingStore;
  enrollmentKeys: MemoryEnrollmentKeyStore;
  desiredStates: MemoryDesiredStateStore;
  statuses: MemoryScreenStatusStore;
  commands: MemoryCommandStore;
  screenshots: MemoryScreenshotStore;
  health: MemoryHealthStore;
  playEvents: MemoryPlayEventStore;
  publishSources: MemoryPublishSources;
  assets: MemoryAssetCatalog;
}

/**
 * A fresh set of in-memory stores. Deleting a screen deletes what the foreign keys cascade to on
 * PostgreSQL (status, commands and their screenshots, health samples, play events) and its
 * desired-state history (which PgScreenStore.delete removes in the same transaction).
 */
export function createMemoryFleetStores(): MemoryFleetStores {
  const tick = eventLoopTurn;
  const screens = new MemoryScreenStore();
  const stores = {
    screens,
    groups: new MemoryGroupStore(screens),
    pairings: new MemoryPairingStore(screens, tick),
    enrollmentKeys: new MemoryEnrollmentKeyStore(),
    desiredStates: new MemoryDesiredStateStore(tick),
    statuses: new MemoryScreenStatusStore(screens),
    commands: new MemoryCommandStore(),
    screenshots: new MemoryScreenshotStore(),
    health: new MemoryHealthStore(),
    playEvents: new MemoryPlayEventStore(),
    publishSources: new MemoryPublishSources(screens),
    assets: new MemoryAssetCatalog(),
  };
  screens.onDelete((screenId) => {
    stores.statuses.rows.delete(screenId);
    for (const commandId of stores.commands.forget(screenId)) stores.screenshots.rows.delete(commandId);
    stores.health.rows.delete(screenId);
    stores.playEvents.forget(screenId);
    stores.desiredStates.forget(screenId);
  });
  return stores;
}
