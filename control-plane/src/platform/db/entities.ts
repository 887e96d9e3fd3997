import { defineEntity, p } from "@mikro-orm/postgresql";

/**
 * Every table of the control plane. Ids are UUIDs chosen by the application; every row that
 * belongs to a tenant has a `tenant` relation so repositories can always filter by it.
 * Times are `timestamptz`. Schema changes go through a migration in src/platform/migrations; the
 * migrations test fails when these definitions and the migrations disagree.
 */

/** Roles of users and API tokens, lowest first. */
export const roles = ["viewer", "editor", "admin"] as const;
/** A role name as stored. */
export type RoleName = (typeof roles)[number];

/** Kinds of schedule-rule targets. */
export const targetKinds = ["screen", "group", "tag", "tenant"] as const;
/** A target kind as stored. */
export type TargetKind = (typeof targetKinds)[number];

const uuidPk = () => p.uuid().primary();
const createdAt = () => p.datetime().onCreate(() => new Date());

export const TenantSchema = defineEntity({
  name: "Tenant",
  tableName: "tenants",
  properties: {
    id: uuidPk(),
    slug: p.string().length(63).unique(),
    name: p.string().length(200),
    storageQuotaBytes: p.bigint("number"),
    screenQuota: p.integer(),
    createdAt: createdAt(),
  },
});
export class Tenant extends TenantSchema.class {}
TenantSchema.setClass(Tenant);

export const UserSchema = defineEntity({
  name: "User",
  tableName: "users",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    email: p.string().length(320),
    displayName: p.string().length(200),
    role: p.enum(roles),
    passwordHash: p.text(),
    disabled: p.boolean().default(false),
    createdAt: createdAt(),
    lastLoginAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ["tenant", "email"] }],
});
export class User extends UserSchema.class {}
UserSchema.setClass(User);

export const ApiTokenSchema = defineEntity({
  name: "ApiToken",
  tableName: "api_tokens",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    name: p.string().length(200),
    role: p.enum(roles),
    /** sha256 (hex) of the secret; the secret itself is never stored. */
    tokenHash: p.string().length(64).unique(),
    createdBy: p.string().length(64),
    createdAt: createdAt(),
    expiresAt: p.datetime().nullable(),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  },
});
export class ApiToken extends ApiTokenSchema.class {}
ApiTokenSchema.setClass(ApiToken);

export const SessionSchema = defineEntity({
  name: "Session",
  tableName: "sessions",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    user: () => p.manyToOne(User).deleteRule("cascade"),
    /** sha256 (hex) of the session secret. */
    tokenHash: p.string().length(64).unique(),
    createdAt: createdAt(),
    expiresAt: p.datetime(),
  },
});
export class Session extends SessionSchema.class {}
SessionSchema.setClass(Session);

export const VideoSchema = defineEntity({
  name: "Video",
  tableName: "videos",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    sha256: p.string().length(64),
    sizeBytes: p.bigint("number"),
    durationMs: p.integer(),
    codec: p.string().length(32),
    width: p.integer(),
    height: p.integer(),
    name: p.string().length(200),
    originalName: p.string().length(255),
    contentType: p.string().length(100),
    /** sha256 of the JPEG thumbnail blob; null when ffmpeg could not grab a frame. */
    thumbnailSha256: p.string().length(64).nullable(),
    createdBy: p.string().length(64),
    /** Millisecond precision, like JavaScript dates: page tokens carry it and must compare exactly. */
    createdAt: p.datetime(3).onCreate(() => new Date()),
  },
  uniques: [{ properties: ["tenant", "sha256"] }],
  indexes: [{ properties: ["tenant", "createdAt"] }, { properties: ["sha256"] }],
});
export class Video extends VideoSchema.class {}
VideoSchema.setClass(Video);

export const PlaylistSchema = defineEntity({
  name: "Playlist",
  tableName: "playlists",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    name: p.string().length(200),
    /** Bumped on every update; the etag clients send back. */
    version: p.integer().default(1),
    createdAt: createdAt(),
    updatedAt: p.datetime(),
  },
});
export class Playlist extends PlaylistSchema.class {}
PlaylistSchema.setClass(Playlist);

export const PlaylistItemSchema = defineEntity({
  name: "PlaylistItem",
  tableName: "playlist_items",
  properties: {
    id: uuidPk(),
    playlist: () => p.manyToOne(Playlist).deleteRule("cascade"),
    position: p.integer(),
    /** No cascade: a video in use cannot be deleted (the service says which playlists use it). */
    video: () => p.manyToOne(Video),
  },
  uniques: [{ properties: ["playlist", "position"] }],
  indexes: [{ properties: ["video"] }],
});
export class PlaylistItem extends PlaylistItemSchema.class {}
PlaylistItemSchema.setClass(PlaylistItem);

export const GroupSchema = defineEntity({
  name: "Group",
  tableName: "groups",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    name: p.string().length(200),
    createdAt: createdAt(),
  },
  uniques: [{ properties: ["tenant", "name"] }],
});
export class Group extends GroupSchema.class {}
GroupSchema.setClass(Group);

export const ScreenSchema = defineEntity({
  name: "Screen",
  tableName: "screens",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    name: p.string().length(200),
    hardwareId: p.string().length(200),
    group: () => p.manyToOne(Group).nullable().deleteRule("set null"),
    timezone: p.string().length(64).default("UTC"),
    /** Presentation settings (volume, orientation, display hours) as the fleet service stores them. */
    settings: p.json<Record<string, unknown>>(),
    /** sha256 of the device token; null when revoked or not yet issued. */
    tokenHash: p.string().length(64).nullable().unique(),
    createdAt: createdAt(),
    claimedAt: p.datetime().nullable(),
    // Live status (last seen, desired/applied version, sync error) is in the fleet's `screen_status` table.
  },
  uniques: [{ properties: ["tenant", "hardwareId"] }],
  // ListScreens pages in `ORDER BY name COLLATE "C", id` (src/fleet/pg/screens.ts): a tenant's
  // page, and a group's, is an index range scan from the page token's position on.
  indexes: [
    {
      name: "screens_tenant_id_name_id_index",
      columns: [{ name: "tenant_id" }, { name: "name", collation: "C" }, { name: "id" }],
    },
    {
      name: "screens_group_id_name_id_index",
      columns: [{ name: "group_id" }, { name: "name", collation: "C" }, { name: "id" }],
    },
  ],
});
export class Screen extends ScreenSchema.class {}
ScreenSchema.setClass(Screen);

export const ScreenTagSchema = defineEntity({
  name: "ScreenTag",
  tableName: "screen_tags",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    screen: () => p.manyToOne(Screen).deleteRule("cascade"),
    tag: p.string().length(100),
  },
  uniques: [{ properties: ["screen", "tag"] }],
  indexes: [{ properties: ["tenant", "tag"] }],
});
export class ScreenTag extends ScreenTagSchema.class {}
ScreenTagSchema.setClass(ScreenTag);

export const ScheduleRuleSchema = defineEntity({
  name: "ScheduleRule",
  tableName: "schedule_rules",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    name: p.string().length(200),
    targetKind: p.enum(targetKinds),
    /** Screen id, group id or tag; empty for the whole tenant. */
    targetValue: p.string().length(200),
    /** No cascade: a playlist used by a rule cannot be deleted. */
    playlist: () => p.manyToOne(Playlist),
    priority: p.integer().default(0),
    /** Inclusive local dates as YYYY-MM-DD; null = unbounded. */
    startDate: p.string().length(10).nullable(),
    endDate: p.string().length(10).nullable(),
    /** ISO weekdays (Monday = 1); empty = every day. */
    daysOfWeek: p.json<number[]>(),
    /** Local window in minutes after midnight; both null = all day. */
    windowStartMinute: p.integer().nullable(),
    windowEndMinute: p.integer().nullable(),
    enabled: p.boolean().default(true),
    /** Bumped on every update; the etag clients send back. */
    version: p.integer().default(1),
    createdAt: createdAt(),
    updatedAt: p.datetime(),
  },
  indexes: [{ properties: ["tenant", "targetKind", "targetValue"] }, { properties: ["playlist"] }],
});
export class ScheduleRule extends ScheduleRuleSchema.class {}
ScheduleRuleSchema.setClass(ScheduleRule);

export const DefaultPlaylistSchema = defineEntity({
  name: "DefaultPlaylist",
  tableName: "default_playlists",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    /** "tenant" or "group:<group id>": one default per scope (NULL group ids would not be unique). */
    scope: p.string().length(64),
    group: () => p.manyToOne(Group).nullable().deleteRule("cascade"),
    playlist: () => p.manyToOne(Playlist),
  },
  uniques: [{ properties: ["tenant", "scope"] }],
  indexes: [{ properties: ["playlist"] }],
});
export class DefaultPlaylist extends DefaultPlaylistSchema.class {}
DefaultPlaylistSchema.setClass(DefaultPlaylist);

export const AuditEventSchema = defineEntity({
  name: "AuditEvent",
  tableName: "audit_events",
  properties: {
    id: uuidPk(),
    tenant: () => p.manyToOne(Tenant).deleteRule("cascade"),
    at: p.datetime(),
    actorId: p.string().length(64),
    actorName: p.string().length(320),
    /** The RPC, e.g. "avtech.content.v1.ContentService/DeleteVideo". */
    action: p.string().length(200),
    subjectType: p.string().length(32),
    subjectId: p.string().length(64),
    before: p.json<unknown>().nullable(),
    after: p.json<unknown>().nullable(),
    /** "ok" or the Connect code name. */
    result: p.string().length(32),
    message: p.text(),
  },
  indexes: [{ properties: ["tenant", "at"] }, { properties: ["tenant", "subjectId"] }],
});
export class AuditEvent extends AuditEventSchema.class {}
AuditEventSchema.setClass(AuditEvent);

/** Every entity, for the ORM configuration. */
export const entities = [
  TenantSchema,
  UserSchema,
  ApiTokenSchema,
  SessionSchema,
  VideoSchema,
  PlaylistSchema,
  PlaylistItemSchema,
  GroupSchema,
  ScreenSchema,
  ScreenTagSchema,
  ScheduleRuleSchema,
  DefaultPlaylistSchema,
  AuditEventSchema,
];
