import { randomUUID } from "node:crypto";
import { evaluateSchedule } from "@avtech/proto";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import type { DesiredState } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { ConnectionState } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { MikroORM } from "@mikro-orm/postgresql";
import { storageUsage } from "../core/content/index.ts";
import { connectionStateOf, syncStatusOf } from "../fleet/fleet/index.ts";
import type { CommandRecord, FleetStores, ScreenRecord, ScreenStatus } from "../fleet/fleet/ports.ts";
import type { AuditLog } from "../platform/audit/index.ts";
import type { Principal } from "../platform/auth/index.ts";
import type { Clock } from "../platform/clock.ts";
import { Screen, Tenant } from "../platform/db/entities.ts";
import { isUuid } from "../platform/validation.ts";
import { AdminCommandError } from "./commands.ts";

/** Who runs the CLI, as the audit log and the commands' `issued_by` record it. */
export interface AdminActor {
  /** At most 64 characters (the audit and command columns). */
  id: string;
  name: string;
}

/** What {@link createFleetAdmin} reads and writes: the fleet's own ports, the ORM for tenants, NOTIFY. */
export interface FleetAdminDeps {
  orm: MikroORM;
  stores: Pick<FleetStores, "screens" | "statuses" | "commands" | "desiredStates">;
  /**
   * Wakes the streams of these screens wherever they are held: the CLI holds none, so this is the
   * control plane's LISTEN/NOTIFY bus (`PgWakeups.notify`), which every server process listens on.
   */
  wake(screenIds: readonly string[]): Promise<void>;
  audit: AuditLog;
  clock: Clock;
  actor: AdminActor;
  /** Time-to-live of queued commands (the server's `fleet.commandTtlSeconds`). */
  commandTtlSeconds: number;
}

/** The statuses `screens --status` filters by: a connection state or a sync status. */
export const screenStatusFilters = ["offline", "online", "pending", "failed"] as const;
/** One of {@link screenStatusFilters}. */
export type ScreenStatusFilter = (typeof screenStatusFilters)[number];

/** A tenant as the CLI shows it. */
export interface TenantRow {
  id: string;
  slug: string;
  name: string;
  screens: number;
  screenQuota: number;
  storageUsedBytes: number;
  storageQuotaBytes: number;
}

/** One screen with its live status, as `screens` and `publish status` print it. */
export interface ScreenRow {
  id: string;
  name: string;
  hardwareId: string;
  connection: "online" | "offline" | "never-connected";
  lastSeenAt: Date | undefined;
  /** Since when the screen is in the state the filter asked for (offline: last seen; pending/failed: published). */
  since: Date | undefined;
  /**
   * "ahead": the screen applied a version above the highest this database issued, which happens only when
   * the database was restored from a backup older than the screen's last publish (see ansible/README.md).
   */
  sync: "synced" | "pending" | "failed" | "never-published" | "ahead";
  desiredVersion: bigint;
  appliedVersion: bigint;
  desiredAt: Date | undefined;
  /** The failure the screen reported for its desired version ("REASON: message"); "" unless failed. */
  syncError: string;
  playback: string;
  diskUsedBytes: number | undefined;
  diskTotalBytes: number | undefined;
  playerVersion: string;
  ipAddress: string;
}

/** Input of {@link FleetAdmin.screens}. */
export interface ScreensQuery {
  tenant: string;
  status?: ScreenStatusFilter;
  /** Only screens in `status` for at least this long (offline, pending and failed only). */
  sinceMs?: number;
  /** Only screens whose media filesystem is fuller than this (0..100, from the last heartbeat). */
  diskUsedAbovePercent?: number;
}

/** What {@link FleetAdmin.publishStatus} reports. */
export interface PublishStatusReport {
  tenant: TenantRow;
  screens: ScreenRow[];
  counts: Record<ScreenRow["sync"], number>;
}

/** One screen's detail: `screen show`. */
export interface ScreenDetail {
  screen: ScreenRow;
  groupId: string;
  tags: string[];
  timezone: string;
  /** What the screen reports playing (last heartbeat). */
  playing: { state: string; playlistId: string; ruleId: string; videoId: string; assetSha256: string } | undefined;
  /** The latest desired state stored for the screen, if it was ever published to. */
  desired:
    | {
        version: bigint;
        contentHash: string;
        generatedAt: Date | undefined;
        assets: number;
        playlists: Array<{ id: string; name: string; items: number }>;
        /** What that state's schedule plays now in the screen's zone (the function the player uses). */
        now: { playlistId: string | undefined; playlistName: string | undefined; ruleId: string | undefined };
        nextChangeAt: Date;
      }
    | undefined;
  commands: CommandRecord[];
}

/** The commands the CLI sends to one screen (`screen <kind>`), and what each asks of the player. */
export const screenCommandKinds = {
  resync: CommandKind.RESYNC,
  "clear-cache": CommandKind.CLEAR_CACHE,
  "restart-player": CommandKind.RESTART_PLAYER,
  reboot: CommandKind.REBOOT,
  identify: CommandKind.IDENTIFY,
} as const;
/** A key of {@link screenCommandKinds}. */
export type ScreenCommandKind = keyof typeof screenCommandKinds;

/** A command queued for one screen. */
export interface QueuedCommand {
  screenId: string;
  screenName: string;
  command: CommandRecord;
}

/** What {@link FleetAdmin.retryFailed} did. */
export interface RetryReport {
  queued: QueuedCommand[];
  /** Failed with INVALID_STATE: the player will not retry that version, whatever it is told; it needs a new publish. */
  needNewVersion: ScreenRow[];
}

/** The fleet questions and actions of the admin CLI, on the fleet's stores (no SQL of their own). */
export interface FleetAdmin {
  tenants(): Promise<TenantRow[]>;
  screens(query: ScreensQuery): Promise<ScreenRow[]>;
  publishStatus(input: { tenant: string }): Promise<PublishStatusReport>;
  screen(input: { tenant: string; screenId: string }): Promise<ScreenDetail>;
  /** Queues RESYNC for every screen of the tenant whose sync failed and wakes their streams. */
  retryFailed(input: { tenant: string }): Promise<RetryReport>;
  /** Queues a command for one screen and wakes its stream. */
  screenCommand(input: { tenant: string; screenId: string; kind: ScreenCommandKind }): Promise<QueuedCommand>;
  /** The command as stored now (to follow a queued one). */
  commandStatus(input: { tenantId: string; commandId: string }): Promise<CommandRecord | undefined>;
}

/** Builds the {@link FleetAdmin} of one CLI run. */
export function createFleetAdmin(deps: FleetAdminDeps): FleetAdmin {
  const { stores } = deps;

  async function tenantRows(where: { slug?: string } = {}): Promise<TenantRow[]> {
    const em = deps.orm.em.fork();
    const tenants = await em.find(Tenant, where, { orderBy: { slug: "asc" } });
    return Promise.all(
      tenants.map(async (tenant) => {
        const [screens, storage] = await Promise.all([
          em.fork().count(Screen, { tenant: tenant.id }),
          storageUsage(em.fork(), tenant.id),
        ]);
        return {
          id: tenant.id,
          slug: tenant.slug,
          name: tenant.name,
          screens,
          screenQuota: tenant.screenQuota,
          storageUsedBytes: storage.usedBytes,
          storageQuotaBytes: storage.quotaBytes,
        };
      }),
    );
  }

  async function tenantBySlug(slug: string): Promise<TenantRow> {
    const [tenant] = await tenantRows({ slug });
    if (tenant) return tenant;
    const known = (await tenantRows()).map((row) => row.slug);
    throw new AdminCommandError(
      known.length === 0
        ? `no tenant "${slug}": this database has no tenants (create one with create-tenant)`
        : `no tenant "${slug}"; tenants: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", …" : ""}`,
    );
  }

  async function screenOf(tenant: TenantRow, screenId: string): Promise<ScreenRecord> {
    const screen = isUuid(screenId) ? await stores.screens.get(tenant.id, screenId) : undefined;
    if (!screen) {
      throw new AdminCommandError(
        `no screen ${screenId} in tenant "${tenant.slug}"; list its screens with: screens --tenant ${tenant.slug}`,
      );
    }
    return screen;
  }

  async function rowsOf(screens: ScreenRecord[]): Promise<ScreenRow[]> {
    const statuses = await stores.statuses.getMany(screens.map((screen) => screen.id));
    const now = deps.clock.now();
    return screens.map((screen) => screenRow(screen, statuses.get(screen.id), now));
  }

  async function queueCommand(tenant: TenantRow, screens: ScreenRecord[], kind: CommandKind): Promise<QueuedCommand[]> {
    if (screens.length === 0) return [];
    const now = deps.clock.now();
    const commands: CommandRecord[] = screens.map((screen) => ({
      id: randomUUID(),
      tenantId: tenant.id,
      screenId: screen.id,
      kind,
      // As SendCommand's default: long enough to walk up to the screen and read it.
      identifySeconds: kind === CommandKind.IDENTIFY ? 10 : 0,
      issuedAt: now,
      expiresAt: new Date(now.getTime() + deps.commandTtlSeconds * 1000),
      issuedBy: deps.actor.id,
      status: CommandStatus.QUEUED,
      resultMessage: "",
      completedAt: undefined,
      hasScreenshot: false,
    }));
    const [only] = commands;
    let error: unknown;
    try {
      await stores.commands.insert(commands);
      await deps.wake(commands.map((command) => command.screenId));
    } catch (caught) {
      error = caught;
    }
    // Recorded like FleetService.SendCommand's, so the audit trail shows who asked what from where.
    await deps.audit.record({
      principal: cliPrincipal(tenant, deps.actor),
      action: "admin-cli/SendCommand",
      note: {
        subjectType: commands.length === 1 ? "screen" : "screens",
        subjectId: commands.length === 1 && only ? only.screenId : "",
        after: {
          kind: CommandKind[kind],
          commands: commands.map((command) => ({ id: command.id, screenId: command.screenId })),
        },
      },
      error,
    });
    if (error) throw error;
    const names = new Map(screens.map((screen) => [screen.id, screen.name]));
    return commands.map((command) => ({
      screenId: command.screenId,
      screenName: names.get(command.screenId) ?? "",
      command,
    }));
  }

  return {
    tenants: () => tenantRows(),

    async screens(query) {
      if (query.sinceMs !== undefined && query.status === "online") {
        throw new AdminCommandError("--since applies to --status offline, pending and failed, not online");
      }
      if (query.sinceMs !== undefined && query.status === undefined) {
        throw new AdminCommandError("--since needs --status offline, pending or failed");
      }
      const tenant = await tenantBySlug(query.tenant);
      const rows = await rowsOf(await stores.screens.list(tenant.id));
      const now = deps.clock.now().getTime();
      const selected = rows.filter((row) => {
        if (query.status === "offline" && row.connection === "online") return false;
        if (query.status === "online" && row.connection !== "online") return false;
        if ((query.status === "pending" || query.status === "failed") && row.sync !== query.status) return false;
        if (query.sinceMs !== undefined && (row.since === undefined || now - row.since.getTime() < query.sinceMs)) {
          // A screen never seen counts as offline since its claim, so "since" is always known for offline.
          return false;
        }
        if (query.diskUsedAbovePercent !== undefined) {
          if (!row.diskTotalBytes || row.diskUsedBytes === undefined) return false;
          if ((row.diskUsedBytes / row.diskTotalBytes) * 100 <= query.diskUsedAbovePercent) return false;
        }
        return true;
      });
      return query.status === "offline" || query.status === "pending" || query.status === "failed"
        ? selected
            .map((row) => ({ row, at: row.since?.getTime() ?? 0 }))
            .sort((a, b) => a.at - b.at)
            .map(({ row }) => row)
        : selected;
    },

    async publishStatus(input) {
      const tenant = await tenantBySlug(input.tenant);
      const screens = await rowsOf(await stores.screens.list(tenant.id));
      const counts = { synced: 0, pending: 0, failed: 0, "never-published": 0, ahead: 0 };
      for (const screen of screens) counts[screen.sync]++;
      return { tenant, screens, counts };
    },

    async screen(input) {
      const tenant = await tenantBySlug(input.tenant);
      const record = await screenOf(tenant, input.screenId);
      const [[row], desired, commands] = await Promise.all([
        rowsOf([record]),
        stores.desiredStates.latest(record.id),
        stores.commands.list(tenant.id, record.id, 5),
      ]);
      const status = await stores.statuses.get(record.id);
      const playback = status?.playback;
      return {
        screen: row as ScreenRow,
        groupId: record.groupId,
        tags: record.tags,
        timezone: record.timezone,
        playing: playback
          ? {
              state: PlaybackState[playback.state] ?? "UNSPECIFIED",
              playlistId: playback.playlistId,
              ruleId: playback.ruleId,
              videoId: playback.videoId,
              assetSha256: playback.assetSha256,
            }
          : undefined,
        desired: desired ? desiredSummary(desired, deps.clock.now()) : undefined,
        commands,
      };
    },

    async retryFailed(input) {
      const tenant = await tenantBySlug(input.tenant);
      const records = await stores.screens.list(tenant.id);
      const rows = await rowsOf(records);
      const failed = rows.filter((row) => row.sync === "failed");
      const needNewVersion = failed.filter((row) => row.syncError.startsWith("INVALID_STATE"));
      const retry = new Set(failed.filter((row) => !needNewVersion.includes(row)).map((row) => row.id));
      const queued = await queueCommand(
        tenant,
        records.filter((record) => retry.has(record.id)),
        CommandKind.RESYNC,
      );
      return { queued, needNewVersion };
    },

    async screenCommand(input) {
      const tenant = await tenantBySlug(input.tenant);
      const screen = await screenOf(tenant, input.screenId);
      const [queued] = await queueCommand(tenant, [screen], screenCommandKinds[input.kind]);
      return queued as QueuedCommand;
    },

    commandStatus: (input) => stores.commands.get(input.tenantId, input.commandId),
  };
}

/** The CLI as the audit log's actor: an operator on the host, with the admin role's reach. */
function cliPrincipal(tenant: TenantRow, actor: AdminActor): Principal {
  return {
    tenantId: tenant.id,
    tenantName: tenant.name,
    role: "admin",
    actorId: actor.id,
    actorName: actor.name,
    kind: "api_token",
  };
}

function screenRow(screen: ScreenRecord, status: ScreenStatus | undefined, now: Date): ScreenRow {
  const connection = connectionStateOf(status, now);
  const sync = syncStatusOf(status);
  const ahead = status !== undefined && status.appliedVersion > status.desiredVersion;
  const syncName = ahead
    ? "ahead"
    : sync === SyncStatus.SYNCED
      ? "synced"
      : sync === SyncStatus.FAILED
        ? "failed"
        : sync === SyncStatus.PENDING
          ? "pending"
          : "never-published";
  const connectionName =
    connection === ConnectionState.ONLINE
      ? "online"
      : connection === ConnectionState.OFFLINE
        ? "offline"
        : "never-connected";
  const health = status?.lastHealth;
  return {
    id: screen.id,
    name: screen.name,
    hardwareId: screen.hardwareId,
    connection: connectionName,
    lastSeenAt: status?.lastSeenAt,
    since:
      syncName === "pending" || syncName === "failed"
        ? status?.desiredAt
        : connectionName === "online"
          ? undefined
          : (status?.lastSeenAt ?? screen.claimedAt),
    sync: syncName,
    desiredVersion: status?.desiredVersion ?? 0n,
    appliedVersion: status?.appliedVersion ?? 0n,
    desiredAt: status?.desiredAt,
    syncError: syncName === "failed" ? (status?.lastSyncError ?? "") : "",
    playback: status?.playback ? (PlaybackState[status.playback.state] ?? "UNSPECIFIED") : "",
    diskUsedBytes: health ? Number(health.diskUsedBytes) : undefined,
    diskTotalBytes: health ? Number(health.diskTotalBytes) : undefined,
    playerVersion: screen.playerVersion,
    ipAddress: status?.ipAddress ?? "",
  };
}

function desiredSummary(state: DesiredState, now: Date): NonNullable<ScreenDetail["desired"]> {
  const decision = evaluateSchedule(
    {
      rules: state.rules,
      defaultPlaylistId: state.defaultPlaylistId,
      timezone: state.settings?.timezone || "UTC",
    },
    now,
  );
  const playlists = state.playlists.map((playlist) => ({
    id: playlist.id,
    name: playlist.name,
    items: playlist.items.length,
  }));
  return {
    version: state.version,
    contentHash: state.contentHash,
    generatedAt: state.generatedAt ? timestampDate(state.generatedAt) : undefined,
    assets: state.assets.length,
    playlists,
    now: {
      playlistId: decision.playlistId,
      playlistName: playlists.find((playlist) => playlist.id === decision.playlistId)?.name,
      ruleId: decision.ruleId,
    },
    nextChangeAt: decision.nextChangeAt,
  };
}
