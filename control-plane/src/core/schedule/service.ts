import { randomUUID } from "node:crypto";
import { evaluateSchedule, ruleProblems } from "@avtech/proto";
import type { Rule, ScheduleService, Target } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type FilterQuery, LockMode } from "@mikro-orm/postgresql";
import { noteAudit } from "../../platform/audit/index.ts";
import type { Clock } from "../../platform/clock.ts";
import {
  DefaultPlaylist,
  Group,
  Playlist,
  PlaylistItem,
  ScheduleRule,
  Screen,
  ScreenTag,
  type TargetKind,
  Video,
} from "../../platform/db/entities.ts";
import type { ScopeFactory, TenantScope } from "../../platform/db/tenant-scope.ts";
import { requireId, requireName } from "../../platform/validation.ts";
import {
  dateToString,
  defaultPlaylistToProto,
  type PlaylistWithItems,
  playlistToProto,
  ruleSnapshot,
  ruleToProto,
} from "./convert.ts";

/** Dependencies of {@link createScheduleService}. */
export interface ScheduleServiceDeps {
  scope: ScopeFactory;
  clock: Clock;
}

const maxItems = 500;

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** An id the request names that is not in the caller's tenant (another tenant's, or none). */
function notFound(message: string): ConnectError {
  return new ConnectError(message, Code.NotFound);
}

async function loadPlaylist(scope: TenantScope, id: string): Promise<PlaylistWithItems> {
  const playlist = await scope.findOne(Playlist, { id });
  if (!playlist) throw new ConnectError(`playlist ${id} not found`, Code.NotFound);
  return { playlist, items: await itemsOf(scope, [id]).then((m) => m.get(id) ?? []) };
}

async function itemsOf(
  scope: TenantScope,
  playlistIds: readonly string[],
): Promise<Map<string, { videoId: string; durationMs: number }[]>> {
  const rows = await scope.em.find(
    PlaylistItem,
    { playlist: { $in: [...playlistIds], tenant: scope.tenantId } },
    { populate: ["video"], orderBy: { position: "asc" } },
  );
  const byPlaylist = new Map<string, { videoId: string; durationMs: number }[]>();
  for (const row of rows) {
    const list = byPlaylist.get(row.playlist.id) ?? [];
    list.push({ videoId: row.video.id, durationMs: row.video.durationMs });
    byPlaylist.set(row.playlist.id, list);
  }
  return byPlaylist;
}

/**
 * Checks the video ids exist in the tenant: NOT_FOUND naming the unknown ones (another tenant's id
 * is unknown here), as for every id a request names.
 */
async function requireVideos(scope: TenantScope, videoIds: readonly string[]): Promise<void> {
  if (videoIds.length === 0) throw invalid("a playlist needs at least one video");
  if (videoIds.length > maxItems) throw invalid(`a playlist holds at most ${maxItems} videos`);
  const ids = [...new Set(videoIds.map((id) => requireId(id, "video_ids")))];
  const found = await scope.find(Video, { id: { $in: ids } });
  const known = new Set(found.map((v) => v.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new ConnectError(`unknown video id(s) ${unknown.join(", ")}: upload them first`, Code.NotFound);
  }
}

function replaceItems(scope: TenantScope, playlist: Playlist, videoIds: readonly string[]): void {
  videoIds.forEach((videoId, position) => {
    scope.em.create(PlaylistItem, { id: randomUUID(), playlist, position, video: videoId.toLowerCase() });
  });
}

/** Checks the etag and bumps the version; ABORTED when the row changed since the client read it. */
function checkEtag(kind: string, current: number, etag: string): void {
  if (etag === "") throw invalid(`etag is required to update a ${kind}: send the etag you last read`);
  if (etag !== String(current)) {
    throw new ConnectError(
      `the ${kind} changed since you read it (etag ${etag}, now ${current}); reload it and apply your change again`,
      Code.Aborted,
    );
  }
}

/** The stored target of a wire target; a screen or group id not in the tenant is NOT_FOUND. */
async function requireTarget(
  scope: TenantScope,
  target: Target | undefined,
  allowed: readonly TargetKind[] = ["screen", "group", "tag", "tenant"],
): Promise<{ kind: TargetKind; value: string }> {
  const kind = target?.kind;
  let result: { kind: TargetKind; value: string };
  switch (kind?.case) {
    case "screenId": {
      const id = requireId(kind.value, "target.screen_id");
      if (!(await scope.findOne(Screen, { id }))) throw notFound(`target screen ${id} does not exist`);
      result = { kind: "screen", value: id };
      break;
    }
    case "groupId": {
      const id = requireId(kind.value, "target.group_id");
      if (!(await scope.findOne(Group, { id }))) throw notFound(`target group ${id} does not exist`);
      result = { kind: "group", value: id };
      break;
    }
    case "tag":
      result = { kind: "tag", value: requireName(kind.value, "target.tag", 100) };
      break;
    case "wholeTenant":
      if (!kind.value) throw invalid("target.whole_tenant must be true when set");
      result = { kind: "tenant", value: "" };
      break;
    default:
      throw invalid("target is required: screen_id, group_id, tag or whole_tenant");
  }
  if (!allowed.includes(result.kind)) {
    throw invalid(
      `target must be one of: ${allowed.map((k) => (k === "tenant" ? "whole_tenant" : `${k}_id`)).join(", ")}`,
    );
  }
  return result;
}

/** Validates a wire rule's timing and names; returns the columns to store. */
async function ruleColumns(scope: TenantScope, rule: Rule | undefined) {
  if (!rule) throw invalid("rule is required");
  const name = requireName(rule.name, "rule.name");
  const target = await requireTarget(scope, rule.target);
  const playlistId = requireId(rule.playlistId, "rule.playlist_id");
  const problems = ruleProblems({ ...rule, daysOfWeek: rule.daysOfWeek });
  if (problems.length > 0) throw invalid(problems.join("; "));
  if (!(await scope.findOne(Playlist, { id: playlistId }))) throw notFound(`playlist ${playlistId} does not exist`);
  return {
    name,
    targetKind: target.kind,
    targetValue: target.value,
    playlist: playlistId,
    priority: rule.priority,
    startDate: dateToString(rule.startDate),
    endDate: dateToString(rule.endDate),
    daysOfWeek: [...new Set(rule.daysOfWeek)].sort(),
    windowStartMinute: rule.window ? rule.window.startMinute : null,
    windowEndMinute: rule.window ? rule.window.endMinute : null,
    enabled: rule.enabled,
  };
}

function playlistSnapshot(p: PlaylistWithItems): Record<string, unknown> {
  return { name: p.playlist.name, videoIds: p.items.map((i) => i.videoId), version: p.playlist.version };
}

/** ScheduleService: playlists, rules, defaults and previews of the caller's tenant. */
export function createScheduleService(deps: ScheduleServiceDeps): ServiceImpl<typeof ScheduleService> {
  const scopeOf = (context: HandlerContext) => deps.scope(context);
  return {
    async createPlaylist(req, context) {
      const scope = scopeOf(context);
      noteAudit(context, { subjectType: "playlist" });
      const name = requireName(req.name, "name");
      await requireVideos(scope, req.videoIds);
      const playlist = scope.create(Playlist, { id: randomUUID(), name, version: 1, updatedAt: deps.clock.now() });
      replaceItems(scope, playlist, req.videoIds);
      await scope.em.flush();
      const loaded = await loadPlaylist(scope, playlist.id);
      noteAudit(context, { subjectId: playlist.id, after: playlistSnapshot(loaded) });
      return { playlist: playlistToProto(loaded) };
    },

    async getPlaylist(req, context) {
      return { playlist: playlistToProto(await loadPlaylist(scopeOf(context), requireId(req.id, "id"))) };
    },

    async listPlaylists(_req, context) {
      const scope = scopeOf(context);
      const playlists = await scope.find(Playlist, {}, { orderBy: { name: "asc" } });
      const items = await itemsOf(
        scope,
        playlists.map((p) => p.id),
      );
      return {
        playlists: playlists.map((playlist) => playlistToProto({ playlist, items: items.get(playlist.id) ?? [] })),
      };
    },

    async updatePlaylist(req, context) {
      const id = requireId(req.id, "id");
      noteAudit(context, { subjectType: "playlist", subjectId: id });
      const name = requireName(req.name, "name");
      const result = await scopeOf(context).transactional(async (tx) => {
        const playlist = await tx.findOne(Playlist, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!playlist) throw new ConnectError(`playlist ${id} not found`, Code.NotFound);
        noteAudit(context, { before: playlistSnapshot(await loadPlaylist(tx, id)) });
        checkEtag("playlist", playlist.version, req.etag);
        await requireVideos(tx, req.videoIds);
        await tx.em.nativeDelete(PlaylistItem, { playlist: id });
        playlist.name = name;
        playlist.version += 1;
        playlist.updatedAt = deps.clock.now();
        replaceItems(tx, playlist, req.videoIds);
        await tx.em.flush();
        return playlist.id;
      });
      const loaded = await loadPlaylist(scopeOf(context), result);
      noteAudit(context, { after: playlistSnapshot(loaded) });
      return { playlist: playlistToProto(loaded) };
    },

    async deletePlaylist(req, context) {
      const scope = scopeOf(context);
      const id = requireId(req.id, "id");
      noteAudit(context, { subjectType: "playlist", subjectId: id });
      const loaded = await loadPlaylist(scope, id);
      noteAudit(context, { before: playlistSnapshot(loaded) });
      const rules = await scope.find(ScheduleRule, { playlist: id });
      const defaults = await scope.find(DefaultPlaylist, { playlist: id });
      if (rules.length > 0 || defaults.length > 0) {
        const users = [
          ...rules.map((r) => `rule "${r.name}" (${r.id})`),
          ...defaults.map((d) => (d.scope === "tenant" ? "the tenant default" : `the default of ${d.scope}`)),
        ];
        throw new ConnectError(
          `playlist "${loaded.playlist.name}" is used by ${users.join(", ")}; change those first`,
          Code.FailedPrecondition,
        );
      }
      scope.em.remove(loaded.playlist);
      await scope.em.flush();
      return {};
    },

    async createRule(req, context) {
      const scope = scopeOf(context);
      noteAudit(context, { subjectType: "rule" });
      const columns = await ruleColumns(scope, req.rule);
      const rule = scope.create(ScheduleRule, {
        id: randomUUID(),
        ...columns,
        version: 1,
        updatedAt: deps.clock.now(),
      });
      await scope.em.flush();
      noteAudit(context, { subjectId: rule.id, after: ruleSnapshot(rule) });
      return { rule: ruleToProto(rule) };
    },

    async getRule(req, context) {
      const id = requireId(req.id, "id");
      const rule = await scopeOf(context).findOne(ScheduleRule, { id });
      if (!rule) throw new ConnectError(`rule ${id} not found`, Code.NotFound);
      return { rule: ruleToProto(rule) };
    },

    async listRules(req, context) {
      const scope = scopeOf(context);
      const target = req.target?.kind.case ? await requireTarget(scope, req.target) : undefined;
      const rules = await scope.find(
        ScheduleRule,
        target ? { targetKind: target.kind, targetValue: target.value } : {},
        { orderBy: [{ priority: "desc" }, { id: "asc" }] },
      );
      return { rules: rules.map(ruleToProto) };
    },

    async updateRule(req, context) {
      const id = requireId(req.rule?.id ?? "", "rule.id");
      noteAudit(context, { subjectType: "rule", subjectId: id });
      const rule = await scopeOf(context).transactional(async (tx) => {
        const row = await tx.findOne(ScheduleRule, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!row) throw new ConnectError(`rule ${id} not found`, Code.NotFound);
        noteAudit(context, { before: ruleSnapshot(row) });
        checkEtag("rule", row.version, req.rule?.etag ?? "");
        const columns = await ruleColumns(tx, req.rule);
        tx.em.assign(row, { ...columns, version: row.version + 1, updatedAt: deps.clock.now() });
        await tx.em.flush();
        return row;
      });
      noteAudit(context, { after: ruleSnapshot(rule) });
      return { rule: ruleToProto(rule) };
    },

    async deleteRule(req, context) {
      const scope = scopeOf(context);
      const id = requireId(req.id, "id");
      noteAudit(context, { subjectType: "rule", subjectId: id });
      const rule = await scope.findOne(ScheduleRule, { id });
      if (!rule) throw new ConnectError(`rule ${id} not found`, Code.NotFound);
      noteAudit(context, { before: ruleSnapshot(rule) });
      scope.em.remove(rule);
      await scope.em.flush();
      return {};
    },

    async setDefaultPlaylist(req, context) {
      const scope = scopeOf(context);
      const target = await requireTarget(scope, req.target, ["group", "tenant"]);
      const key = target.kind === "tenant" ? "tenant" : `group:${target.value}`;
      noteAudit(context, { subjectType: "default_playlist", subjectId: key });
      const existing = await scope.findOne(DefaultPlaylist, { scope: key });
      noteAudit(context, { before: existing ? { playlistId: existing.playlist.id } : undefined });
      if (!req.playlistId) {
        if (existing) scope.em.remove(existing);
        await scope.em.flush();
        return {};
      }
      const playlistId = requireId(req.playlistId, "playlist_id");
      if (!(await scope.findOne(Playlist, { id: playlistId }))) throw notFound(`playlist ${playlistId} does not exist`);
      if (existing) existing.playlist = scope.em.getReference(Playlist, playlistId);
      else {
        scope.create(DefaultPlaylist, {
          id: randomUUID(),
          scope: key,
          group: target.kind === "group" ? target.value : null,
          playlist: playlistId,
        });
      }
      await scope.em.flush();
      noteAudit(context, { after: { playlistId } });
      return {};
    },

    async listDefaultPlaylists(_req, context) {
      const scope = scopeOf(context);
      const rows = await scope.em.populate(await scope.find(DefaultPlaylist, {}), ["playlist", "group"]);
      // The tenant-wide default first, then the groups' by name (a tenant has one row per group at most).
      rows.sort((a, b) => {
        if (!a.group || !b.group) return a.group ? 1 : b.group ? -1 : 0;
        return a.group.name.localeCompare(b.group.name) || a.group.id.localeCompare(b.group.id);
      });
      return { defaults: rows.map(defaultPlaylistToProto) };
    },

    async previewSchedule(req, context) {
      const scope = scopeOf(context);
      const screenId = requireId(req.screenId, "screen_id");
      const screen = await scope.findOne(Screen, { id: screenId });
      if (!screen) throw new ConnectError(`screen ${screenId} not found`, Code.NotFound);
      const tags = (await scope.find(ScreenTag, { screen: screenId })).map((t) => t.tag);
      const groupId = screen.group?.id;
      const targets: { targetKind: TargetKind; targetValue: string | { $in: string[] } }[] = [
        { targetKind: "tenant", targetValue: "" },
        { targetKind: "screen", targetValue: screenId },
        ...(groupId ? [{ targetKind: "group" as const, targetValue: groupId }] : []),
        ...(tags.length > 0 ? [{ targetKind: "tag" as const, targetValue: { $in: tags } }] : []),
      ];
      const rules = await scope.find(ScheduleRule, { enabled: true, $or: targets } as FilterQuery<ScheduleRule>);
      const defaults = await scope.find(DefaultPlaylist, {
        scope: { $in: ["tenant", ...(groupId ? [`group:${groupId}`] : [])] },
      });
      const defaultPlaylist =
        defaults.find((d) => d.scope !== "tenant")?.playlist.id ??
        defaults.find((d) => d.scope === "tenant")?.playlist.id;
      const decision = evaluateSchedule(
        {
          rules: rules.map((r) => {
            const wire = ruleToProto(r);
            return { ...wire, daysOfWeek: wire.daysOfWeek };
          }),
          defaultPlaylistId: defaultPlaylist ?? "",
          timezone: screen.timezone,
        },
        req.at ? timestampDate(req.at) : deps.clock.now(),
      );
      return {
        playlistId: decision.playlistId ?? "",
        ruleId: decision.ruleId ?? "",
        nextChangeAt: timestampFromDate(decision.nextChangeAt),
      };
    },
  };
}
