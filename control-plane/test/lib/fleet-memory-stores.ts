import { CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { type DesiredState, DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { clone, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { PlaylistRecord, RuleRecord, ScreenFacts, TargetSelector } from "../../src/desired-state/index.ts";
import type {
  AssetCatalog,
  CommandRecord,
  CommandStore,
  DesiredStateStore,
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
} from "../../src/fleet/index.ts";
import { emptyStatus } from "../../src/fleet/index.ts";

/** Yields to the event loop, so concurrent callers interleave as they would against a database. */
const eventLoopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The order of ScreenStore.page: name by Unicode code point (what PostgreSQL's `COLLATE "C"` does:
 * it compares UTF-8 bytes, and so does this), then id.
 */
export function compareScreenOrder(a: ScreenCursor, b: ScreenCursor): number {
  return Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** In-memory ScreenStore. */
export class MemoryScreenStore implements ScreenStore {
  readonly rows = new Map<string, ScreenRecord>();
  readonly #byToken = new Map<string, string>();
  readonly #byHardware = new Map<string, string>();
  async create(screen: ScreenRecord) {
    this.rows.set(screen.id, { ...screen });
    this.#byHardware.set(`${screen.tenantId}/${screen.hardwareId}`, screen.id);
    if (screen.tokenHash) this.#byToken.set(screen.tokenHash, screen.id);
  }
  async findByTokenHash(tokenHash: string) {
    const row = this.rows.get(this.#byToken.get(tokenHash) ?? "");
    return row?.tokenHash === tokenHash ? { ...row } : undefined;
  }
  async findByHardwareId(tenantId: string, hardwareId: string) {
    const row = this.rows.get(this.#byHardware.get(`${tenantId}/${hardwareId}`) ?? "");
    return row ? { ...row } : undefined;
  }
  async get(tenantId: string, id: string) {
    const row = this.rows.get(id);
    return row && row.tenantId === tenantId ? { ...row } : undefined;
  }
  async getMany(tenantId: string, ids: readonly string[]) {
    const found = new Map<string, ScreenRecord>();
    for (const id of ids) {
      const row = this.rows.get(id);
      if (row && row.tenantId === tenantId) found.set(id, { ...row });
    }
    return found;
  }
  async list(tenantId: string) {
    return [...this.rows.values()]
      .filter((row) => row.tenantId === tenantId)
      .sort((a, b) => a.name.localeCompare(b.name));
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
      screens: matching.slice(0, query.limit).map((row) => ({ ...row, tags: [...row.tags] })),
      more: matching.length > query.limit,
    };
  }
  async setTokenHash(tenantId: string, id: string, tokenHash: string | undefined) {
    const row = this.rows.get(id);
    if (!row || row.tenantId !== tenantId) return false;
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
    Object.assign(row, edit, { revision: row.revision + 1 });
    return { ...row };
  }
  async updateVersions(id: string, versions: { playerVersion: string; osVersion: string }) {
    const row = this.rows.get(id);
    if (row) Object.assign(row, versions);
  }
  async delete(tenantId: string, id: string) {
    const row = this.rows.get(id);
    if (!row || row.tenantId !== tenantId) return false;
    return this.rows.delete(id);
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
    for (const row of this.rows.values()) if (row.tenantId === group.tenantId && row.name === group.name) return false;
    this.rows.set(group.id, { ...group });
    return true;
  }
  async get(tenantId: string, id: string) {
    const row = this.rows.get(id);
    return row && row.tenantId === tenantId ? { ...row } : undefined;
  }
  async list(tenantId: string) {
    const screens = [...this.#screens.rows.values()];
    return [...this.rows.values()]
      .filter((row) => row.tenantId === tenantId)
      .sort((a, b) => a.name.localeCompare(b.name))
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

/** In-memory PairingStore; claim and delivery check-and-set synchronously (like one UPDATE). */
export class MemoryPairingStore implements PairingStore {
  readonly rows = new Map<string, PairingRecord>();
  readonly #tick: () => Promise<void>;
  readonly #screens: MemoryScreenStore;
  constructor(screens: MemoryScreenStore, tick = eventLoopTurn) {
    this.#screens = screens;
    this.#tick = tick;
  }
  async create(pairing: PairingRecord) {
    const existing = this.rows.get(pairing.code);
    if (existing && !existing.claimedScreenId && existing.expiresAt > pairing.createdAt) return false;
    this.rows.set(pairing.code, { ...pairing });
    return true;
  }
  async claimAndCreate(
    code: string,
    claim: { tenantId: string; screenId: string },
    now: Date,
    screenFor: (pairing: PairingRecord) => ScreenRecord,
  ) {
    await this.#tick();
    const row = this.rows.get(code);
    if (!row || row.claimedScreenId || row.expiresAt <= now) return undefined;
    const screen = screenFor({ ...row });
    await this.#screens.create(screen);
    row.claimedTenantId = claim.tenantId;
    row.claimedScreenId = claim.screenId;
    return screen;
  }
  async findBySecretHash(secretHash: string) {
    for (const row of this.rows.values()) if (row.secretHash === secretHash) return { ...row };
    return undefined;
  }
  async markDelivered(secretHash: string) {
    await this.#tick();
    for (const row of this.rows.values()) {
      if (row.secretHash === secretHash && row.claimedScreenId && !row.delivered) {
        row.delivered = true;
        return true;
      }
    }
    return false;
  }
}

/** In-memory EnrollmentKeyStore. */
export class MemoryEnrollmentKeyStore implements EnrollmentKeyStore {
  readonly rows = new Map<string, EnrollmentKeyRecord>();
  async create(key: EnrollmentKeyRecord) {
    this.rows.set(key.secretHash, { ...key });
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
    return { ...row };
  }
  async list(tenantId: string) {
    return [...this.rows.values()]
      .filter((row) => row.tenantId === tenantId)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .map((row) => ({ ...row }));
  }
  async revoke(tenantId: string, id: string, now: Date) {
    const row = [...this.rows.values()].find((r) => r.tenantId === tenantId && r.id === id);
    if (!row) return undefined;
    row.revokedAt ??= now;
    return { ...row };
  }
}

/** In-memory DesiredStateStore with the same optimistic check as the SQL one. */
export class MemoryDesiredStateStore implements DesiredStateStore {
  readonly versions = new Map<string, DesiredState[]>();
  readonly #tick: () => Promise<void>;
  constructor(tick = eventLoopTurn) {
    this.#tick = tick;
  }
  async latest(screenId: string) {
    await this.#tick();
    const list = this.versions.get(screenId);
    const last = list?.[list.length - 1];
    return last ? clone(DesiredStateSchema, last) : undefined;
  }
  async heads(screenIds: readonly string[]) {
    await this.#tick();
    const heads = new Map<string, VersionHead>();
    for (const id of screenIds) {
      const last = this.versions.get(id)?.at(-1);
      if (last) heads.set(id, { version: last.version, contentHash: last.contentHash });
    }
    return heads;
  }
  async latestEncoded(screenIds: readonly string[]) {
    await this.#tick();
    const documents = new Map<string, Uint8Array>();
    for (const id of screenIds) {
      const last = this.versions.get(id)?.at(-1);
      if (last) documents.set(id, toBinary(DesiredStateSchema, last));
    }
    return documents;
  }
  async insertMany(entries: readonly VersionInsert[]) {
    await this.#tick();
    const inserted = new Set<string>();
    for (const entry of entries) {
      const list = this.versions.get(entry.screenId) ?? [];
      if ((list.at(-1)?.version ?? 0n) + 1n !== entry.version) continue;
      list.push(fromBinary(DesiredStateSchema, entry.document));
      this.versions.set(entry.screenId, list);
      inserted.add(entry.screenId);
    }
    return inserted;
  }
}

/** In-memory ScreenStatusStore. */
export class MemoryScreenStatusStore implements ScreenStatusStore {
  readonly rows = new Map<string, ScreenStatus>();
  async get(screenId: string) {
    const row = this.rows.get(screenId);
    return row ? { ...row } : undefined;
  }
  async getMany(screenIds: readonly string[]) {
    const found = new Map<string, ScreenStatus>();
    for (const id of screenIds) {
      const row = this.rows.get(id);
      if (row) found.set(id, { ...row });
    }
    return found;
  }
  async patch(screenId: string, patch: Partial<Omit<ScreenStatus, "screenId">>) {
    this.rows.set(screenId, { ...(this.rows.get(screenId) ?? emptyStatus(screenId, 15)), ...patch });
  }
  async raiseDesiredMany(entries: ReadonlyArray<{ screenId: string; version: bigint }>, at: Date) {
    for (const { screenId, version } of entries) {
      const row = this.rows.get(screenId) ?? emptyStatus(screenId, 15);
      if (version > row.desiredVersion) this.rows.set(screenId, { ...row, desiredVersion: version, desiredAt: at });
    }
  }
  async recordApplied(screenId: string, version: bigint, at: Date) {
    const row = this.rows.get(screenId) ?? emptyStatus(screenId, 15);
    if (version <= row.appliedVersion) return undefined;
    this.rows.set(screenId, { ...row, appliedVersion: version, lastSeenAt: at });
    return { desiredVersion: row.desiredVersion, desiredAt: row.desiredAt };
  }
  async delete(screenId: string) {
    this.rows.delete(screenId);
  }
}

/** In-memory CommandStore. */
export class MemoryCommandStore implements CommandStore {
  readonly rows = new Map<string, CommandRecord>();
  async insert(commands: readonly CommandRecord[]) {
    for (const command of commands) this.rows.set(command.id, { ...command });
  }
  async queued(screenId: string) {
    return [...this.rows.values()]
      .filter((row) => row.screenId === screenId && row.status === CommandStatus.QUEUED)
      .sort((a, b) => a.issuedAt.getTime() - b.issuedAt.getTime())
      .map((row) => ({ ...row }));
  }
  async update(
    screenId: string,
    id: string,
    patch: Partial<Pick<CommandRecord, "status" | "resultMessage" | "completedAt" | "hasScreenshot">>,
  ) {
    const row = this.rows.get(id);
    if (!row || row.screenId !== screenId) return false;
    Object.assign(row, patch);
    return true;
  }
  async get(tenantId: string, id: string) {
    const row = this.rows.get(id);
    return row && row.tenantId === tenantId ? { ...row } : undefined;
  }
  async getMany(tenantId: string, ids: readonly string[]) {
    const found = new Map<string, CommandRecord>();
    for (const id of ids) {
      const row = this.rows.get(id);
      if (row && row.tenantId === tenantId) found.set(id, { ...row });
    }
    return found;
  }
  async list(tenantId: string, screenId: string, limit: number) {
    return [...this.rows.values()]
      .filter((row) => row.tenantId === tenantId && row.screenId === screenId)
      .sort((a, b) => b.issuedAt.getTime() - a.issuedAt.getTime())
      .slice(0, limit)
      .map((row) => ({ ...row }));
  }
}

/** In-memory ScreenshotStore. */
export class MemoryScreenshotStore implements ScreenshotStore {
  readonly rows = new Map<string, { png: Uint8Array; takenAt: Date }>();
  async save(commandId: string, png: Uint8Array, takenAt: Date) {
    this.rows.set(commandId, { png, takenAt });
  }
  async get(commandId: string) {
    return this.rows.get(commandId);
  }
}

/** In-memory HealthStore. */
export class MemoryHealthStore implements HealthStore {
  readonly rows = new Map<string, HealthSample[]>();
  async append(screenId: string, sample: HealthSample) {
    const list = this.rows.get(screenId) ?? [];
    list.push(sample);
    this.rows.set(screenId, list);
  }
  async range(screenId: string, from: Date, to: Date) {
    return (this.rows.get(screenId) ?? []).filter((sample) => sample.at >= from && sample.at < to);
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

/** In-memory PlayEventStore (dedup by screen + event id). */
export class MemoryPlayEventStore implements PlayEventStore {
  readonly ids = new Set<string>();
  async insertMany(_tenantId: string, screenId: string, events: readonly { eventId: string }[]) {
    let inserted = 0;
    for (const event of events) {
      const key = `${screenId}/${event.eventId}`;
      if (this.ids.has(key)) continue;
      this.ids.add(key);
      inserted++;
    }
    return inserted;
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

/** A fresh set of in-memory stores. */
export function createMemoryFleetStores(): MemoryFleetStores {
  const tick = eventLoopTurn;
  const screens = new MemoryScreenStore();
  return {
    screens,
    groups: new MemoryGroupStore(screens),
    pairings: new MemoryPairingStore(screens, tick),
    enrollmentKeys: new MemoryEnrollmentKeyStore(),
    desiredStates: new MemoryDesiredStateStore(tick),
    statuses: new MemoryScreenStatusStore(),
    commands: new MemoryCommandStore(),
    screenshots: new MemoryScreenshotStore(),
    health: new MemoryHealthStore(),
    playEvents: new MemoryPlayEventStore(),
    publishSources: new MemoryPublishSources(screens),
    assets: new MemoryAssetCatalog(),
  };
}
