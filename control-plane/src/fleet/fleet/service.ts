import { randomUUID } from "node:crypto";
import { isValidTimeZone } from "@avtech/proto";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import {
  type CommandRecord as CommandRecordMessage,
  CommandRecordSchema,
  type EnrollmentKey,
  EnrollmentKeySchema,
  EnrollmentKeyState,
  type FleetService,
  type Screen,
  WatchFleetResponseSchema,
} from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { noteAudit } from "../../platform/audit/index.ts";
import { newSecret } from "../../platform/auth/secrets.ts";
import type { Clock } from "../../platform/clock.ts";
import { TokenBuckets } from "../../platform/rate-limit/index.ts";
import { isUuid } from "../../platform/validation.ts";
import type { SessionRegistry } from "../live/index.ts";
import { hashSecret, normalisePairingCode } from "../pairing/index.ts";
import { type PrincipalOf, readers, requireRole, writers } from "./access.ts";
import type { FleetBroadcaster } from "./broadcaster.ts";
import { type FleetConfig, maxCommandTtlSeconds } from "./config.ts";
import { downsampleHealth } from "./health-history.ts";
import { newScreen } from "./new-screen.ts";
import type {
  CommandRecord,
  EnrollmentKeyRecord,
  FleetStores,
  Principal,
  ScreenCursor,
  ScreenRecord,
} from "./ports.ts";
import { loadScreenViews, revisionOfEtag, screenView } from "./view.ts";

const keepAliveMs = 15_000;

/** What {@link createFleetService} uses, and nothing more. */
export interface FleetServiceDeps {
  stores: Pick<
    FleetStores,
    "screens" | "groups" | "pairings" | "enrollmentKeys" | "statuses" | "commands" | "screenshots" | "health"
  >;
  config: Pick<FleetConfig, "commandTtlSeconds" | "defaultTimezone">;
  clock: Clock;
  logger: Logger;
  /** Ends the stream of a deleted screen, or one whose token was revoked, when this process holds it. */
  registry: Pick<SessionRegistry, "disconnect">;
  /** The live view (WatchFleet): told about changed and removed screens. */
  broadcaster: Pick<FleetBroadcaster, "changed" | "removed" | "subscribe">;
  /** Brings the named screens up to date wherever their streams are (this process and, via the bus, others). */
  wake(screenIds: readonly string[]): Promise<void>;
  /** The caller of a console RPC (the core's auth puts it in the handler context). */
  principalOf: PrincipalOf;
}

/**
 * FleetService: claims, screens, tokens, commands, health history and the live view. Every id is
 * looked up inside the caller's tenant; another tenant's id is NOT_FOUND.
 */
export function createFleetService(deps: FleetServiceDeps): ServiceImpl<typeof FleetService> {
  // Bounds guessing of live pairing codes per tenant (RFC 8628 §5.1): 10 at once, then one per 5 s.
  const claimLimiter = new TokenBuckets({ burst: 10, perSecond: 0.2 }, () => deps.clock.now().getTime());
  const { stores, principalOf } = deps;

  const viewsOf = (tenantId: string, ids: readonly string[]) =>
    loadScreenViews(stores, tenantId, ids, deps.clock.now());
  const screenOf = async (principal: Principal, id: string) => {
    const screen = await stores.screens.get(principal.tenantId, id);
    if (!screen) throw new ConnectError(`no screen ${id} in your tenant`, Code.NotFound);
    return screen;
  };
  const requireGroup = async (principal: Principal, groupId: string) => {
    if (groupId && !(await stores.groups.get(principal.tenantId, groupId))) {
      throw new ConnectError(`no group ${groupId} in your tenant; create it first`, Code.NotFound);
    }
  };
  const viewOf = async (principal: Principal, id: string): Promise<Screen> => {
    const [view] = await viewsOf(principal.tenantId, [id]);
    if (!view) throw new ConnectError(`no screen ${id} in your tenant`, Code.NotFound);
    return view;
  };

  return {
    async claimScreen(request, context) {
      const principal = requireRole(principalOf, context, writers);
      if (!claimLimiter.take(principal.tenantId)) {
        throw new ConnectError("too many claim attempts; wait a minute and retry", Code.ResourceExhausted);
      }
      const name = request.name.trim();
      if (name.length < 1 || name.length > 200) {
        throw new ConnectError("name must be 1..200 characters", Code.InvalidArgument);
      }
      if (request.timezone && !isValidTimeZone(request.timezone)) {
        throw new ConnectError(`timezone ${request.timezone} is not an IANA time zone name`, Code.InvalidArgument);
      }
      const tags = normaliseTags(request.tags);
      await requireGroup(principal, request.groupId);
      const code = normalisePairingCode(request.pairingCode);
      const screenId = randomUUID();
      noteAudit(context, { subjectType: "screen", subjectId: screenId });
      const now = deps.clock.now();
      const screen = code
        ? await stores.pairings.claimAndCreate(code, { tenantId: principal.tenantId, screenId }, now, (pairing) => ({
            ...newScreen({
              tenantId: principal.tenantId,
              hardwareId: pairing.hardwareId,
              name,
              groupId: request.groupId,
              tags,
              timezone: request.timezone || deps.config.defaultTimezone,
              facts: pairing.facts,
              now,
              tokenHash: undefined,
              firstSeenAt: pairing.createdAt,
            }),
            id: screenId,
          }))
        : undefined;
      if (!screen) {
        throw new ConnectError(
          "no screen shows this pairing code (it is wrong, expired or already used); check the code on the screen",
          Code.NotFound,
        );
      }
      // A device the tenant already has as a screen (re-flashed, or its token lost) is re-attached to
      // it, keeping its id, settings and history, as enrolling again does; its old token stops working
      // when the device collects the new one.
      const reattached = screen.id !== screenId;
      if (reattached) {
        noteAudit(context, { subjectId: screen.id });
        deps.registry.disconnect(screen.id, new ConnectError("the screen was paired again", Code.Unauthenticated));
      }
      noteAudit(context, { after: { ...auditSnapshot(screen), hardwareId: screen.hardwareId } });
      deps.logger.info(
        { tenantId: principal.tenantId, actorId: principal.actorId, screenId: screen.id, reattached },
        reattached ? "screen paired again" : "screen claimed",
      );
      deps.broadcaster.changed(principal.tenantId, screen.id);
      return { screen: reattached ? await viewOf(principal, screen.id) : screenView(screen, undefined, now) };
    },

    async getScreen(request, context) {
      const principal = requireRole(principalOf, context, readers);
      return { screen: await viewOf(principal, request.id) };
    },

    async listScreens(request, context) {
      const principal = requireRole(principalOf, context, readers);
      const pageSize = Math.min(Math.max(request.pageSize || 100, 1), 1000);
      const after = request.pageToken ? decodeScreenPageToken(request.pageToken) : undefined;
      if (request.pageToken && !after) {
        throw new ConnectError("page_token is not one this server returned", Code.InvalidArgument);
      }
      // A group filter names a group of the caller's, like every id a request names.
      await requireGroup(principal, request.groupId);
      const { screens, more } = await stores.screens.page(principal.tenantId, {
        text: request.query,
        groupId: request.groupId,
        after,
        limit: pageSize,
      });
      const statuses = await stores.statuses.getMany(screens.map((screen) => screen.id));
      const now = deps.clock.now();
      const last = screens.at(-1);
      return {
        screens: screens.map((screen) => screenView(screen, statuses.get(screen.id), now)),
        nextPageToken: more && last ? encodeScreenPageToken(last) : "",
      };
    },

    async updateScreen(request, context) {
      const principal = requireRole(principalOf, context, writers);
      const revision = revisionOfEtag(request.etag);
      if (revision === undefined) {
        throw new ConnectError("etag is required: send the etag of the screen you edited", Code.InvalidArgument);
      }
      const name = request.name.trim();
      if (name.length < 1 || name.length > 200)
        throw new ConnectError("name must be 1..200 characters", Code.InvalidArgument);
      const settings = request.settings;
      if (settings?.timezone && !isValidTimeZone(settings.timezone)) {
        throw new ConnectError(`timezone ${settings.timezone} is not an IANA time zone name`, Code.InvalidArgument);
      }
      if ((settings?.volumePercent ?? 0) > 100)
        throw new ConnectError("volume_percent is 0..100", Code.InvalidArgument);
      noteAudit(context, { subjectType: "screen", subjectId: request.id });
      await requireGroup(principal, request.groupId);
      const current = await screenOf(principal, request.id);
      noteAudit(context, { before: auditSnapshot(current) });
      const updated = await stores.screens.update(principal.tenantId, request.id, revision, {
        name,
        groupId: request.groupId,
        tags: normaliseTags(request.tags),
        timezone: settings?.timezone || current.timezone,
        volumePercent: settings ? settings.volumePercent : current.volumePercent,
        orientation: settings ? settings.orientation : current.orientation,
        displayHours: settings ? [...settings.displayHours] : current.displayHours,
      });
      if (updated === "not-found") throw new ConnectError(`no screen ${request.id} in your tenant`, Code.NotFound);
      if (updated === "stale") {
        throw new ConnectError(
          "the screen changed since you loaded it; reload and apply your edit again",
          Code.Aborted,
        );
      }
      noteAudit(context, { after: auditSnapshot(updated) });
      deps.broadcaster.changed(principal.tenantId, request.id);
      return { screen: await viewOf(principal, request.id) };
    },

    async createGroup(request, context) {
      const principal = requireRole(principalOf, context, writers);
      const name = request.name.trim();
      if (name.length < 1 || name.length > 200)
        throw new ConnectError("name must be 1..200 characters", Code.InvalidArgument);
      const group = { id: randomUUID(), tenantId: principal.tenantId, name };
      noteAudit(context, { subjectType: "group", subjectId: group.id, after: { name } });
      if (!(await stores.groups.create(group))) {
        throw new ConnectError(`a group named ${name} already exists`, Code.AlreadyExists);
      }
      return { group: { id: group.id, name, screenCount: 0 } };
    },

    async listGroups(_request, context) {
      const principal = requireRole(principalOf, context, readers);
      const groups = await stores.groups.list(principal.tenantId);
      return { groups: groups.map((g) => ({ id: g.id, name: g.name, screenCount: g.screenCount })) };
    },

    async deleteGroup(request, context) {
      const principal = requireRole(principalOf, context, writers);
      noteAudit(context, { subjectType: "group", subjectId: request.id });
      const outcome = await stores.groups.delete(principal.tenantId, request.id);
      if (outcome === "not-found") throw new ConnectError(`no group ${request.id} in your tenant`, Code.NotFound);
      if (outcome === "not-empty") {
        throw new ConnectError("the group still has screens; move them out first", Code.FailedPrecondition);
      }
      return {};
    },

    async deleteScreen(request, context) {
      const principal = requireRole(principalOf, context, writers);
      noteAudit(context, { subjectType: "screen", subjectId: request.id });
      const before = await stores.screens.get(principal.tenantId, request.id);
      if (before) noteAudit(context, { before: auditSnapshot(before) });
      if (!(await stores.screens.delete(principal.tenantId, request.id))) {
        throw new ConnectError(`no screen ${request.id} in your tenant`, Code.NotFound);
      }
      await stores.statuses.delete(request.id);
      disconnect(request.id, "the screen was deleted");
      await deps.wake([request.id]);
      deps.broadcaster.removed(principal.tenantId, request.id);
      deps.logger.info(
        { tenantId: principal.tenantId, actorId: principal.actorId, screenId: request.id },
        "screen deleted",
      );
      return {};
    },

    async revokeScreenToken(request, context) {
      const principal = requireRole(principalOf, context, writers);
      noteAudit(context, { subjectType: "screen", subjectId: request.id, after: { deviceToken: "revoked" } });
      if (!(await stores.screens.setTokenHash(principal.tenantId, request.id, undefined))) {
        throw new ConnectError(`no screen ${request.id} in your tenant`, Code.NotFound);
      }
      disconnect(request.id, "the device token was revoked");
      await deps.wake([request.id]);
      deps.logger.info(
        { tenantId: principal.tenantId, actorId: principal.actorId, screenId: request.id },
        "token revoked",
      );
      return {};
    },

    async sendCommand(request, context) {
      const principal = requireRole(principalOf, context, writers);
      if (request.screenIds.length < 1 || request.screenIds.length > 1000) {
        throw new ConnectError("screen_ids must name 1..1000 screens", Code.InvalidArgument);
      }
      if (request.kind === CommandKind.UNSPECIFIED || CommandKind[request.kind] === undefined) {
        throw new ConnectError("kind must be a known command kind", Code.InvalidArgument);
      }
      const ttl = request.ttlSeconds || deps.config.commandTtlSeconds;
      if (ttl > maxCommandTtlSeconds) throw new ConnectError("ttl_seconds is at most 7 days", Code.InvalidArgument);
      const screenIds = [...new Set(request.screenIds)];
      const targets = await stores.screens.getMany(principal.tenantId, screenIds);
      const missing = screenIds.find((id) => !targets.has(id));
      if (missing !== undefined) throw new ConnectError(`no screen ${missing} in your tenant`, Code.NotFound);
      const now = deps.clock.now();
      const commands: CommandRecord[] = screenIds.map((screenId) => ({
        id: randomUUID(),
        tenantId: principal.tenantId,
        screenId,
        kind: request.kind,
        identifySeconds: request.kind === CommandKind.IDENTIFY ? request.identifySeconds || 10 : 0,
        issuedAt: now,
        expiresAt: new Date(now.getTime() + ttl * 1000),
        issuedBy: principal.actorId,
        status: CommandStatus.QUEUED,
        resultMessage: "",
        completedAt: undefined,
        hasScreenshot: false,
      }));
      // subject_id holds one id: a command to one screen names the screen, a fan-out lists them in `after`.
      const [only] = commands;
      noteAudit(context, {
        subjectType: commands.length === 1 ? "screen" : "screens",
        subjectId: commands.length === 1 && only ? only.screenId : "",
        after: {
          kind: CommandKind[request.kind],
          commands: commands.map((command) => ({ id: command.id, screenId: command.screenId })),
        },
      });
      await stores.commands.insert(commands);
      deps.logger.info(
        {
          tenantId: principal.tenantId,
          actorId: principal.actorId,
          kind: CommandKind[request.kind],
          screens: commands.length,
        },
        "command queued",
      );
      await deps.wake(commands.map((command) => command.screenId));
      // Re-read after the wake-up: a command sent on a stream this process holds is DELIVERED by now.
      const current = await stores.commands.getMany(
        principal.tenantId,
        commands.map((command) => command.id),
      );
      return {
        commands: commands.flatMap((command) => {
          const stored = current.get(command.id);
          return stored ? [commandMessage(stored)] : [];
        }),
      };
    },

    async listCommands(request, context) {
      const principal = requireRole(principalOf, context, readers);
      await screenOf(principal, request.screenId);
      const limit = Math.min(request.limit || 50, 500);
      const commands = await stores.commands.list(principal.tenantId, request.screenId, limit);
      return { commands: commands.map(commandMessage) };
    },

    async getScreenshot(request, context) {
      const principal = requireRole(principalOf, context, readers);
      const command = await stores.commands.get(principal.tenantId, request.commandId);
      const shot = command?.hasScreenshot ? await stores.screenshots.get(command.id) : undefined;
      if (!shot) throw new ConnectError(`no screenshot for command ${request.commandId}`, Code.NotFound);
      return { png: shot.png, takenAt: timestampFromDate(shot.takenAt) };
    },

    async getHealthHistory(request, context) {
      const principal = requireRole(principalOf, context, readers);
      await screenOf(principal, request.screenId);
      const to = request.to ? timestampDate(request.to) : deps.clock.now();
      const from = request.from ? timestampDate(request.from) : new Date(to.getTime() - 24 * 3600 * 1000);
      if (from >= to) throw new ConnectError("from must be before to", Code.InvalidArgument);
      const samples = await stores.health.range(request.screenId, from, to);
      return { points: downsampleHealth(samples, from, to, Math.min(request.maxPoints || 288, 2000)) };
    },

    async createEnrollmentKey(request, context) {
      const principal = requireRole(principalOf, context, ["admin"]);
      const name = request.name.trim();
      if (name.length < 1 || name.length > 200) {
        throw new ConnectError("name must be 1..200 characters, e.g. the site the key is for", Code.InvalidArgument);
      }
      const now = deps.clock.now();
      const expiresAt = request.expiresAt ? timestampDate(request.expiresAt) : undefined;
      if (expiresAt && expiresAt <= now) {
        throw new ConnectError("expires_at is in the past: leave it unset or pick a later time", Code.InvalidArgument);
      }
      await requireGroup(principal, request.groupId);
      const secret = newSecret("ave");
      const id = randomUUID();
      noteAudit(context, {
        subjectType: "enrollment_key",
        subjectId: id,
        after: { name, groupId: request.groupId, maxUses: request.maxUses },
      });
      await stores.enrollmentKeys.create({
        id,
        tenantId: principal.tenantId,
        name,
        groupId: request.groupId,
        secretHash: hashSecret(secret),
        maxUses: request.maxUses,
        uses: 0,
        expiresAt,
        createdAt: now,
        revokedAt: undefined,
      });
      deps.logger.info(
        { tenantId: principal.tenantId, actorId: principal.actorId, enrollmentKeyId: id },
        "enrollment key created",
      );
      return { id, enrollmentKey: secret };
    },

    async listEnrollmentKeys(_request, context) {
      const principal = requireRole(principalOf, context, ["admin"]);
      const now = deps.clock.now();
      const keys = await stores.enrollmentKeys.list(principal.tenantId);
      return { keys: keys.map((key) => enrollmentKeyView(key, now)) };
    },

    async revokeEnrollmentKey(request, context) {
      const principal = requireRole(principalOf, context, ["admin"]);
      noteAudit(context, { subjectType: "enrollment_key", subjectId: request.id });
      const now = deps.clock.now();
      const key = await stores.enrollmentKeys.revoke(principal.tenantId, request.id, now);
      if (!key) throw new ConnectError(`no enrollment key ${request.id} in your tenant`, Code.NotFound);
      deps.logger.info(
        { tenantId: principal.tenantId, actorId: principal.actorId, enrollmentKeyId: key.id },
        "enrollment key revoked",
      );
      return { key: enrollmentKeyView(key, now) };
    },

    async *watchFleet(_request, context: HandlerContext) {
      const principal = requireRole(principalOf, context, readers);
      // Subscribe before reading the snapshot, so no change between the two is lost.
      const { changes, unsubscribe } = deps.broadcaster.subscribe(principal.tenantId);
      const keepAlive = setInterval(() => changes.push({ kind: "keepAlive" }, "keep-alive"), keepAliveMs);
      context.signal.addEventListener("abort", unsubscribe, { once: true });
      try {
        const screens = await stores.screens.list(principal.tenantId);
        yield create(WatchFleetResponseSchema, {
          event: {
            case: "snapshot",
            value: {
              screens: await viewsOf(
                principal.tenantId,
                screens.map((s) => s.id),
              ),
            },
          },
        });
        for await (const change of changes) {
          const event =
            change.kind === "upsert"
              ? ({ case: "upsert", value: change.screen } as const)
              : change.kind === "removed"
                ? ({ case: "removedScreenId", value: change.screenId } as const)
                : ({ case: "keepAlive", value: timestampFromDate(deps.clock.now()) } as const);
          yield create(WatchFleetResponseSchema, { event });
        }
      } finally {
        clearInterval(keepAlive);
        unsubscribe();
      }
    },
  };

  function disconnect(screenId: string, why: string): void {
    deps.registry.disconnect(screenId, new ConnectError(`${why}; register the screen again`, Code.Unauthenticated));
  }
}

/**
 * A ListScreens page token: the position (name, id) of the page's last screen, so the next page
 * starts right after it (keyset paging: screens added or deleted meanwhile shift nothing).
 */
function encodeScreenPageToken(last: ScreenCursor): string {
  return Buffer.from(JSON.stringify([last.name, last.id])).toString("base64url");
}

/** The position in a token {@link encodeScreenPageToken} made; undefined for anything else. */
function decodeScreenPageToken(token: string): ScreenCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [name, id] = value;
    return typeof name === "string" && typeof id === "string" && isUuid(id) ? { name, id } : undefined;
  } catch {
    return undefined;
  }
}

/** What the audit log keeps of a screen (never its token hash). */
function auditSnapshot(screen: ScreenRecord) {
  return {
    name: screen.name,
    groupId: screen.groupId,
    tags: screen.tags,
    timezone: screen.timezone,
    volumePercent: screen.volumePercent,
    orientation: screen.orientation,
  };
}

function normaliseTags(tags: readonly string[]): string[] {
  const clean = [...new Set(tags.map((tag) => tag.trim().toLowerCase()))];
  for (const tag of clean) {
    if (tag.length < 1 || tag.length > 64)
      throw new ConnectError("tags must be 1..64 characters", Code.InvalidArgument);
  }
  return clean;
}

function commandMessage(command: CommandRecord): CommandRecordMessage {
  return create(CommandRecordSchema, {
    command: {
      commandId: command.id,
      kind: command.kind,
      issuedAt: timestampFromDate(command.issuedAt),
      expiresAt: timestampFromDate(command.expiresAt),
      identifySeconds: command.identifySeconds,
    },
    screenId: command.screenId,
    status: command.status,
    resultMessage: command.resultMessage,
    completedAt: command.completedAt ? timestampFromDate(command.completedAt) : undefined,
    hasScreenshot: command.hasScreenshot,
  });
}

/** A stored key as the console sees it: no secret, and its state at `now`. */
function enrollmentKeyView(key: EnrollmentKeyRecord, now: Date): EnrollmentKey {
  const state = key.revokedAt
    ? EnrollmentKeyState.REVOKED
    : key.expiresAt && key.expiresAt <= now
      ? EnrollmentKeyState.EXPIRED
      : key.maxUses > 0 && key.uses >= key.maxUses
        ? EnrollmentKeyState.USED_UP
        : EnrollmentKeyState.ACTIVE;
  return create(EnrollmentKeySchema, {
    id: key.id,
    name: key.name,
    groupId: key.groupId,
    maxUses: key.maxUses,
    uses: key.uses,
    expiresAt: key.expiresAt && timestampFromDate(key.expiresAt),
    createdAt: timestampFromDate(key.createdAt),
    revokedAt: key.revokedAt && timestampFromDate(key.revokedAt),
    state,
  });
}
