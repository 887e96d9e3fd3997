import { randomBytes, randomUUID } from "node:crypto";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import pino from "pino";
import { createDbAssetCatalog, createDbPublishSources } from "../../src/core/schedule/index.ts";
import type {
  CommandRecord,
  EnrollmentKeyRecord,
  FleetStores,
  PairingRecord,
  ScreenRecord,
} from "../../src/fleet/fleet/index.ts";
import { createPgFleetStores } from "../../src/fleet/pg/index.ts";
import { createMemoryFleetStores } from "../lib/fleet-memory-stores.ts";
import { openPgFleetDatabase } from "./pg-fleet.ts";

/**
 * The fleet store ports under test, one implementation at a time: the contract suites
 * (`*.contract.test.ts`) run every check with `describe.each(storeImplementations)`, so the
 * in-memory fakes the service tests use are held to what the PostgreSQL stores do. Where they
 * differ, the PostgreSQL store is the reference and the fake is fixed.
 */
export interface StoreHarness {
  stores: FleetStores;
  /** A new tenant (a `tenants` row on PostgreSQL). Each test makes its own, so no test sees another's rows. */
  tenant(): Promise<string>;
  /** A new group of the tenant (foreign keys need a real one); returns its id. */
  group(tenantId: string, name?: string): Promise<string>;
  /** Makes `sha256` a video of the tenant. */
  asset(tenantId: string, sha256: string): Promise<void>;
  /** Writes what a store buffers (PostgreSQL's write-behind heartbeats and health samples); nothing in memory. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

async function memoryHarness(): Promise<StoreHarness> {
  const stores = createMemoryFleetStores();
  return {
    stores,
    tenant: async () => randomUUID(),
    group: async (tenantId, name = `group ${randomUUID()}`) => {
      const id = randomUUID();
      if (!(await stores.groups.create({ id, tenantId, name }))) throw new Error(`group ${name} exists`);
      return id;
    },
    asset: async (tenantId, sha256) => stores.assets.add(tenantId, sha256),
    settle: async () => undefined,
    close: async () => undefined,
  };
}

async function postgresHarness(): Promise<StoreHarness> {
  const pgf = await openPgFleetDatabase();
  const stores = createPgFleetStores({
    pool: pgf.pool,
    logger: pino({ level: "silent" }),
    core: { publishSources: createDbPublishSources(pgf.db.orm), assets: createDbAssetCatalog(pgf.db.orm) },
    // Play events wait 5 ms, not a second, to be written together: the suites await each insert.
    plays: { policy: { rawRetentionDays: 7, rollupRetentionMonths: 13 }, flushMs: 5 },
    // The suites' play events start at `at()`: a clock there keeps them inside the kept months on any day.
    clock: { now: () => at() },
  });
  return {
    stores,
    tenant: () => pgf.tenant(`contract-${randomUUID()}`),
    group: async (tenantId, name = `group ${randomUUID()}`) => {
      const id = randomUUID();
      if (!(await stores.groups.create({ id, tenantId, name }))) throw new Error(`group ${name} exists`);
      return id;
    },
    asset: async (tenantId, sha256) => {
      await pgf.pool.query(
        `INSERT INTO videos (id, tenant_id, sha256, size_bytes, duration_ms, codec, width, height, name, original_name,
                             content_type, created_by, created_at)
         VALUES ($1, $2, $3, 1000, 5000, 'h264', 1920, 1080, $3, 'clip.mp4', 'video/mp4', 'test', now())`,
        [randomUUID(), tenantId, sha256],
      );
    },
    settle: () => stores.flush(),
    close: () => pgf.close(),
  };
}

/** `[name, open]` pairs for `describe.each`. */
export const storeImplementations: Array<[string, () => Promise<StoreHarness>]> = [
  ["in memory", memoryHarness],
  ["on PostgreSQL", postgresHarness],
];

/** A fixed instant, plus `seconds`. */
export const at = (seconds = 0): Date => new Date(Date.parse("2026-12-01T00:00:00Z") + seconds * 1000);

/** A screen of the tenant with a hardware id of its own. */
export function screenRecord(tenantId: string, fields: Partial<ScreenRecord> = {}): ScreenRecord {
  return {
    id: randomUUID(),
    tenantId,
    hardwareId: `hw-${randomUUID()}`,
    name: "screen",
    groupId: "",
    tags: [],
    timezone: "UTC",
    volumePercent: 100,
    orientation: 0,
    displayHours: [],
    model: "",
    osVersion: "",
    playerVersion: "",
    firstSeenAt: at(),
    claimedAt: at(),
    tokenHash: undefined,
    revision: 1,
    ...fields,
  };
}

/** A QUEUED IDENTIFY command for the screen, valid for a minute from `issuedAt`. */
export function commandRecord(tenantId: string, screenId: string, fields: Partial<CommandRecord> = {}): CommandRecord {
  const issuedAt = fields.issuedAt ?? at();
  return {
    id: randomUUID(),
    tenantId,
    screenId,
    kind: CommandKind.IDENTIFY,
    identifySeconds: 10,
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + 60_000),
    issuedBy: "tester",
    status: CommandStatus.QUEUED,
    resultMessage: "",
    completedAt: undefined,
    hasScreenshot: false,
    ...fields,
  };
}

const pairingAlphabet = "BCDFGHJKLMNPQRSTVWXZ23456789";

/** A random 8-character pairing code (codes are global: every test draws its own). */
export function pairingCode(): string {
  return [...randomBytes(8)].map((byte) => pairingAlphabet[byte % pairingAlphabet.length]).join("");
}

/** A 64-hex-digit secret hash, different every call. */
export const secretHash = (): string => randomBytes(32).toString("hex");

/** An unclaimed pairing, live for ten minutes from `createdAt`. */
export function pairingRecord(fields: Partial<PairingRecord> = {}): PairingRecord {
  const createdAt = fields.createdAt ?? at();
  return {
    code: pairingCode(),
    secretHash: secretHash(),
    hardwareId: `hw-${randomUUID()}`,
    facts: undefined,
    ip: "192.0.2.10",
    createdAt,
    expiresAt: new Date(createdAt.getTime() + 600_000),
    claimedTenantId: undefined,
    claimedScreenId: undefined,
    delivered: false,
    ...fields,
  };
}

/** An unlimited, unexpired, unrevoked enrollment key of the tenant. */
export function enrollmentKeyRecord(tenantId: string, fields: Partial<EnrollmentKeyRecord> = {}): EnrollmentKeyRecord {
  return {
    id: randomUUID(),
    tenantId,
    name: "key",
    groupId: "",
    secretHash: secretHash(),
    maxUses: 0,
    uses: 0,
    expiresAt: undefined,
    createdAt: at(),
    revokedAt: undefined,
    ...fields,
  };
}

/** What PostgreSQL raises for a unique constraint (SQLSTATE 23505), as the fakes raise it too. */
export const uniqueViolationOf = (constraint: string) => ({ code: "23505", constraint });
