import type { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import type { DeviceFacts, PlayEvent, SyncFailureReason } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import type { Health, PlaybackStatus } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import type { DesiredState, DisplayHours, Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import type { OsUpdate } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import type { TargetSelector } from "../../core/desired-state/index.ts";
import type { AssetCatalog, PublishSources, TenantPublishSources } from "../../core/schedule/index.ts";

/**
 * The repository PORTS the fleet, device and publish services need. The database layer implements
 * them (MikroORM entities or plain SQL); tests use the in-memory versions in
 * test/lib/fleet-memory-stores.ts, held to the SQL ones by test/fleet-pg/*.contract.test.ts. Every
 * method that takes an id from a person also takes the caller's tenant: a row of another tenant is
 * "not found".
 */

/** The caller of a fleet-manager RPC, as the auth interceptor establishes it. */
export interface Principal {
  tenantId: string;
  role: "admin" | "editor" | "viewer";
  /** User or API-token id, for the audit trail. */
  actorId: string;
}

/** A screen as stored. */
export interface ScreenRecord {
  id: string;
  tenantId: string;
  hardwareId: string;
  name: string;
  groupId: string;
  tags: string[];
  timezone: string;
  volumePercent: number;
  orientation: Orientation;
  displayHours: DisplayHours[];
  model: string;
  osVersion: string;
  playerVersion: string;
  firstSeenAt: Date;
  claimedAt: Date;
  /** sha256 of the device token; undefined when revoked (or not yet handed out). */
  tokenHash: string | undefined;
  /** Bumped by every UpdateScreen; the etag is derived from it. */
  revision: number;
}

/** The fields UpdateScreen changes. */
export type ScreenEdit = Pick<
  ScreenRecord,
  "name" | "groupId" | "tags" | "timezone" | "volumePercent" | "orientation" | "displayHours"
>;

/** Screens of every tenant. */
export interface ScreenStore {
  /** Inserts a screen (id chosen by the caller). */
  create(screen: ScreenRecord): Promise<void>;
  /** The screen whose current token hashes to `tokenHash` (unauthenticated lookup: any tenant). */
  findByTokenHash(tokenHash: string): Promise<ScreenRecord | undefined>;
  /** A screen of the tenant with this hardware id (re-enrollment reuses it). */
  findByHardwareId(tenantId: string, hardwareId: string): Promise<ScreenRecord | undefined>;
  get(tenantId: string, id: string): Promise<ScreenRecord | undefined>;
  /** The tenant's screens among `ids`, by id, in one read; ids of other tenants or no screen are absent. */
  getMany(tenantId: string, ids: readonly string[]): Promise<Map<string, ScreenRecord>>;
  /** Every screen of the tenant, by name. */
  list(tenantId: string): Promise<ScreenRecord[]>;
  /**
   * One page of the tenant's screens that match `query`, in {@link ScreenCursor} order (one
   * statement in SQL: the filter, the position and the limit are in the query, not in JavaScript).
   * `more` is true when at least one matching screen follows the page.
   */
  page(tenantId: string, query: ScreenPageQuery): Promise<{ screens: ScreenRecord[]; more: boolean }>;
  /** Sets (a new token) or clears (revoke) the token hash; false when no such screen. */
  setTokenHash(tenantId: string, id: string, tokenHash: string | undefined): Promise<boolean>;
  /**
   * Applies `edit` and bumps the revision if the stored revision is still `expectedRevision`
   * (`UPDATE … WHERE revision = $n`): "stale" otherwise, "not-found" for no such screen.
   */
  update(
    tenantId: string,
    id: string,
    expectedRevision: number,
    edit: ScreenEdit,
  ): Promise<ScreenRecord | "stale" | "not-found">;
  /** Records what the player says about itself in Hello. */
  updateVersions(id: string, versions: { playerVersion: string; osVersion: string }): Promise<void>;
  /** Deletes the screen; false when no such screen. */
  delete(tenantId: string, id: string): Promise<boolean>;
}

/** Which screens {@link ScreenStore.page} returns. */
export interface ScreenPageQuery {
  /**
   * Case-insensitive substring of the name, the hardware id or one of the tags; "" matches every
   * screen. `%`, `_` and `\` are plain characters.
   */
  text: string;
  /** Only the screens of this group; "" for screens in any group or none. An unknown id matches none. */
  groupId: string;
  /** The page starts after this position (the last screen of the previous page); undefined for the first page. */
  after: ScreenCursor | undefined;
  /** At most this many screens (at least 1). */
  limit: number;
}

/**
 * A position in the order {@link ScreenStore.page} lists screens in: by name compared by Unicode
 * code point (PostgreSQL `COLLATE "C"`, the same on every server whatever its locale), then by id.
 * The order is total, so a page that starts after a position never repeats or skips a screen
 * that existed before the first page and was not renamed.
 */
export interface ScreenCursor {
  name: string;
  id: string;
}

/** A named set of screens. */
export interface GroupRecord {
  id: string;
  tenantId: string;
  name: string;
}

/** Groups; names are unique per tenant. */
export interface GroupStore {
  /** Inserts; false when the tenant already has a group of that name. */
  create(group: GroupRecord): Promise<boolean>;
  get(tenantId: string, id: string): Promise<GroupRecord | undefined>;
  /** The tenant's groups by name, with how many screens each holds. */
  list(tenantId: string): Promise<Array<GroupRecord & { screenCount: number }>>;
  /** Deletes the group only while no screen is in it (one conditional DELETE). */
  delete(tenantId: string, id: string): Promise<"deleted" | "not-found" | "not-empty">;
}

/** A pairing code waiting to be claimed. */
export interface PairingRecord {
  /** 8 characters of the pairing alphabet, without the dash. */
  code: string;
  secretHash: string;
  hardwareId: string;
  facts: DeviceFacts | undefined;
  ip: string;
  createdAt: Date;
  expiresAt: Date;
  /** Set by a successful claim. */
  claimedTenantId: string | undefined;
  claimedScreenId: string | undefined;
  /** Set when CompletePairing handed the token out (once). */
  delivered: boolean;
}

/** Pairing codes. Claim and delivery are conditional updates, never read-then-write. */
export interface PairingStore {
  /** Inserts; false when the code is already live (the caller draws another). */
  create(pairing: PairingRecord): Promise<boolean>;
  /**
   * ClaimScreen as ONE operation: marks the live, unclaimed, unexpired code as claimed for
   * `claim.screenId` and creates the screen `screenFor` builds from the pairing (its id must be
   * `claim.screenId`), both or neither (one transaction in SQL; the claim is a conditional
   * `UPDATE … WHERE claimed_screen_id IS NULL AND expires_at > now()`). When the tenant already has
   * a screen with the pairing's hardware id (a re-flashed board, or one that lost its token), the
   * code is claimed for THAT screen instead, nothing is created, and that screen is returned (its id
   * is then not `claim.screenId`). Undefined for a wrong, expired or already-claimed code (all alike).
   */
  claimAndCreate(
    code: string,
    claim: { tenantId: string; screenId: string },
    now: Date,
    screenFor: (pairing: PairingRecord) => ScreenRecord,
  ): Promise<ScreenRecord | undefined>;
  findBySecretHash(secretHash: string): Promise<PairingRecord | undefined>;
  /** Atomically sets `delivered` on a claimed, undelivered pairing; true for exactly one caller. */
  markDelivered(secretHash: string): Promise<boolean>;
}

/** A tenant enrollment key as stored. */
export interface EnrollmentKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  groupId: string;
  secretHash: string;
  /** 0 = unlimited. */
  maxUses: number;
  uses: number;
  expiresAt: Date | undefined;
  createdAt: Date;
  revokedAt: Date | undefined;
}

/** Enrollment keys. */
export interface EnrollmentKeyStore {
  create(key: EnrollmentKeyRecord): Promise<void>;
  /** Atomically counts one use of a live key (not revoked, unexpired, uses < max_uses); undefined otherwise. */
  use(secretHash: string, now: Date): Promise<EnrollmentKeyRecord | undefined>;
  /** The tenant's keys, newest first. */
  list(tenantId: string): Promise<EnrollmentKeyRecord[]>;
  /** Sets `revokedAt` unless already set; the key as it is now, or undefined when the tenant has no such key. */
  revoke(tenantId: string, id: string, now: Date): Promise<EnrollmentKeyRecord | undefined>;
}

/** Versioned desired states, unique per (screen, version). */
export interface DesiredStateStore {
  latest(screenId: string): Promise<DesiredState | undefined>;
  /** The latest version and content hash of each of `screenIds` that has a version (one read). */
  heads(screenIds: readonly string[]): Promise<Map<string, VersionHead>>;
  /** The latest documents of `screenIds`, encoded as stored (one read; screens without one are absent). */
  latestEncoded(screenIds: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * For each screen in `sent` (screen id → the version its stream has), the latest version and its document,
   * encoded as stored, when that version is newer; screens already up to date are absent (one read).
   */
  newerThan(sent: ReadonlyMap<string, bigint>): Promise<Map<string, EncodedVersion>>;
  /**
   * Inserts each entry's version only when it is exactly the screen's latest version + 1 and still
   * free (unique `(screen_id, version)`: of two concurrent publishes one wins). One statement, no
   * transaction per screen. Returns the screen ids whose version was inserted; the others lost to
   * a concurrent publish and must re-read their head and retry.
   */
  insertMany(entries: readonly VersionInsert[]): Promise<Set<string>>;
}

/** The latest stored version of a screen's desired state. */
export interface VersionHead {
  version: bigint;
  contentHash: string;
}

/** A stored version and its document, encoded as stored. */
export interface EncodedVersion {
  version: bigint;
  document: Uint8Array;
}

/** One new version for {@link DesiredStateStore.insertMany}. */
export interface VersionInsert {
  screenId: string;
  version: bigint;
  contentHash: string;
  /** The DesiredState, encoded (binary protobuf). */
  document: Uint8Array;
}

/** Live status of a screen: what the stream handlers learn. */
export interface ScreenStatus {
  screenId: string;
  lastSeenAt: Date | undefined;
  /** Heartbeat interval the screen was told, to judge missed heartbeats. */
  heartbeatIntervalSeconds: number;
  /** True while a stream of this screen is open (in any process). */
  streamOpen: boolean;
  ipAddress: string;
  desiredVersion: bigint;
  appliedVersion: bigint;
  /** When desiredVersion was published, for the publish-to-ack latency. */
  desiredAt: Date | undefined;
  lastSyncError: string;
  /** Version the last failure was about (failed = lastFailedVersion === desiredVersion). */
  lastFailedVersion: bigint;
  lastHealth: Health | undefined;
  playback: PlaybackStatus | undefined;
  /** The AVTech OS release the latest Hello named ("" outside an AVTech image). */
  imageVersion: string;
  /** The RAUC slot the latest Hello named ("A", "B"; "" without RAUC). */
  bootedSlot: string;
}

/**
 * Screen status rows. Writes are per-field patches so concurrent writers do not clobber; a patch
 * creates a missing row (fields default as in `emptyStatus`).
 */
export interface ScreenStatusStore {
  get(screenId: string): Promise<ScreenStatus | undefined>;
  getMany(screenIds: readonly string[]): Promise<Map<string, ScreenStatus>>;
  patch(screenId: string, patch: Partial<Omit<ScreenStatus, "screenId">>): Promise<void>;
  /**
   * Sets each screen's desiredVersion/desiredAt only if `version` is higher than the stored one
   * (concurrent publishes finish in any order), in one write. In SQL:
   * `… SET desired_version = excluded.desired_version WHERE desired_version < excluded.desired_version`.
   */
  raiseDesiredMany(entries: ReadonlyArray<{ screenId: string; version: bigint }>, at: Date): Promise<void>;
  /**
   * Records a screen's ack of `version`: raises appliedVersion (never lowers it) and lastSeenAt.
   * Returns the screen's desired version and when it was published if the ack raised
   * appliedVersion (for the publish-to-ack latency), undefined when it was not newer.
   */
  recordApplied(
    screenId: string,
    version: bigint,
    at: Date,
  ): Promise<{ desiredVersion: bigint; desiredAt: Date | undefined } | undefined>;
  delete(screenId: string): Promise<void>;
}

/** A command for one screen, with its outcome. */
export interface CommandRecord {
  id: string;
  tenantId: string;
  screenId: string;
  kind: CommandKind;
  identifySeconds: number;
  issuedAt: Date;
  expiresAt: Date;
  issuedBy: string;
  status: CommandStatus;
  resultMessage: string;
  completedAt: Date | undefined;
  hasScreenshot: boolean;
}

/** Commands (the audit trail of what was asked and answered). */
export interface CommandStore {
  insert(commands: readonly CommandRecord[]): Promise<void>;
  /**
   * QUEUED commands of each of `screenIds`, oldest first (expired ones included: the caller expires them), in one
   * read; screens without any are absent.
   */
  queuedMany(screenIds: readonly string[]): Promise<Map<string, CommandRecord[]>>;
  /**
   * Sets status and result fields; false when the screen has no such command (an empty patch only
   * checks that). Status DELIVERED replaces only QUEUED: a fast screen's result can be stored before
   * the sender records the delivery, and that late DELIVERED must not hide the result.
   */
  update(
    screenId: string,
    id: string,
    patch: Partial<Pick<CommandRecord, "status" | "resultMessage" | "completedAt" | "hasScreenshot">>,
  ): Promise<boolean>;
  get(tenantId: string, id: string): Promise<CommandRecord | undefined>;
  /** The tenant's commands among `ids`, by id, in one read; unknown ids and other tenants' commands are absent. */
  getMany(tenantId: string, ids: readonly string[]): Promise<Map<string, CommandRecord>>;
  /** Newest first. */
  list(tenantId: string, screenId: string, limit: number): Promise<CommandRecord[]>;
}

/** Screenshots produced by SCREENSHOT commands. */
export interface ScreenshotStore {
  save(commandId: string, png: Uint8Array, takenAt: Date): Promise<void>;
  get(commandId: string): Promise<{ png: Uint8Array; takenAt: Date } | undefined>;
}

/** One stored heartbeat sample. */
export interface HealthSample {
  at: Date;
  health: Health;
}

/** Health history (retention is the caller's job through prune). */
export interface HealthStore {
  append(screenId: string, sample: HealthSample): Promise<void>;
  /** Samples with from <= at < to, in time order. */
  range(screenId: string, from: Date, to: Date): Promise<HealthSample[]>;
  /** Deletes samples older than `before`; returns how many. */
  prune(before: Date): Promise<number>;
}

/** Proof-of-play records, deduplicated by (screen, event_id). */
export interface PlayEventStore {
  /** Inserts the events not yet stored; returns how many were new. */
  insertMany(tenantId: string, screenId: string, events: readonly PlayEvent[]): Promise<number>;
}

/**
 * The OS update a rollout offers each screen (src/fleet/update implements it on its tables). The
 * publisher puts it into the screen's desired state; at most one offer per screen.
 */
export interface OsUpdateOffers {
  /** The offered update of each of `screenIds` that has one, in one read. */
  offersFor(screenIds: readonly string[]): Promise<Map<string, OsUpdate>>;
}

/**
 * `PublishSources` (with `TenantPublishSources`) and `AssetCatalog`: the two ports on the core's
 * tables, declared in src/core/schedule beside their implementations (the core does not import
 * the fleet) and named here with the others.
 */
export type { AssetCatalog, PublishSources, TenantPublishSources };

/** Every repository port of the fleet side, as a store implementation provides them together. */
export interface FleetStores {
  screens: ScreenStore;
  groups: GroupStore;
  pairings: PairingStore;
  enrollmentKeys: EnrollmentKeyStore;
  desiredStates: DesiredStateStore;
  statuses: ScreenStatusStore;
  commands: CommandStore;
  screenshots: ScreenshotStore;
  health: HealthStore;
  playEvents: PlayEventStore;
  publishSources: PublishSources;
  assets: AssetCatalog;
}

/** Sync failures are reported with these reasons (re-exported for adapters). */
export type { SyncFailureReason, TargetSelector };
