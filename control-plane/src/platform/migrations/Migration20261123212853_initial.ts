import { Migration } from "@mikro-orm/migrations";

export class Migration20261123212853_initial extends Migration {
  override name = "Migration20261123212853_initial";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "tenants" ("id" uuid not null, "slug" varchar(63) not null, "name" varchar(200) not null, "storage_quota_bytes" bigint not null, "screen_quota" int not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "tenants" add constraint "tenants_slug_unique" unique ("slug");`);

    this.addSql(
      `create table "playlists" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(200) not null, "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );

    this.addSql(
      `create table "schedule_rules" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(200) not null, "target_kind" text not null, "target_value" varchar(200) not null, "playlist_id" uuid not null, "priority" int not null default 0, "start_date" varchar(10) null, "end_date" varchar(10) null, "days_of_week" jsonb not null, "window_start_minute" int null, "window_end_minute" int null, "enabled" boolean not null default true, "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(
      `create index "schedule_rules_tenant_id_target_kind_target_value_index" on "schedule_rules" ("tenant_id", "target_kind", "target_value");`,
    );
    this.addSql(`create index "schedule_rules_playlist_id_index" on "schedule_rules" ("playlist_id");`);
    this.addSql(
      `alter table "schedule_rules" add constraint "schedule_rules_target_kind_check" check ("target_kind" in ('screen', 'group', 'tag', 'tenant'));`,
    );

    this.addSql(
      `create table "groups" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(200) not null, "created_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "groups" add constraint "groups_tenant_id_name_unique" unique ("tenant_id", "name");`);

    this.addSql(
      `create table "screens" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(200) not null, "hardware_id" varchar(200) not null, "group_id" uuid null, "timezone" varchar(64) not null default 'UTC', "settings" jsonb not null, "token_hash" varchar(64) null, "created_at" timestamptz not null, "claimed_at" timestamptz null, "last_seen_at" timestamptz null, "desired_version" bigint not null default '0', "applied_version" bigint not null default '0', "sync_status" varchar(16) not null default 'pending', "sync_error" text not null default '', primary key ("id"));`,
    );
    this.addSql(`alter table "screens" add constraint "screens_token_hash_unique" unique ("token_hash");`);
    this.addSql(
      `alter table "screens" add constraint "screens_tenant_id_hardware_id_unique" unique ("tenant_id", "hardware_id");`,
    );

    this.addSql(
      `create table "screen_tags" ("id" uuid not null, "tenant_id" uuid not null, "screen_id" uuid not null, "tag" varchar(100) not null, primary key ("id"));`,
    );
    this.addSql(`create index "screen_tags_tenant_id_tag_index" on "screen_tags" ("tenant_id", "tag");`);
    this.addSql(
      `alter table "screen_tags" add constraint "screen_tags_screen_id_tag_unique" unique ("screen_id", "tag");`,
    );

    this.addSql(
      `create table "default_playlists" ("id" uuid not null, "tenant_id" uuid not null, "scope" varchar(64) not null, "group_id" uuid null, "playlist_id" uuid not null, primary key ("id"));`,
    );
    this.addSql(`create index "default_playlists_playlist_id_index" on "default_playlists" ("playlist_id");`);
    this.addSql(
      `alter table "default_playlists" add constraint "default_playlists_tenant_id_scope_unique" unique ("tenant_id", "scope");`,
    );

    this.addSql(
      `create table "audit_events" ("id" uuid not null, "tenant_id" uuid not null, "at" timestamptz not null, "actor_id" varchar(64) not null, "actor_name" varchar(320) not null, "action" varchar(200) not null, "subject_type" varchar(32) not null, "subject_id" varchar(64) not null, "before" jsonb null, "after" jsonb null, "result" varchar(32) not null, "message" text not null, primary key ("id"));`,
    );
    this.addSql(`create index "audit_events_tenant_id_at_index" on "audit_events" ("tenant_id", "at");`);
    this.addSql(
      `create index "audit_events_tenant_id_subject_id_index" on "audit_events" ("tenant_id", "subject_id");`,
    );

    this.addSql(
      `create table "api_tokens" ("id" uuid not null, "tenant_id" uuid not null, "name" varchar(200) not null, "role" text not null, "token_hash" varchar(64) not null, "created_by" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`alter table "api_tokens" add constraint "api_tokens_token_hash_unique" unique ("token_hash");`);
    this.addSql(
      `alter table "api_tokens" add constraint "api_tokens_role_check" check ("role" in ('viewer', 'editor', 'admin'));`,
    );

    this.addSql(
      `create table "users" ("id" uuid not null, "tenant_id" uuid not null, "email" varchar(320) not null, "display_name" varchar(200) not null, "role" text not null, "password_hash" text not null, "disabled" boolean not null default false, "created_at" timestamptz not null, "last_login_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`alter table "users" add constraint "users_tenant_id_email_unique" unique ("tenant_id", "email");`);
    this.addSql(
      `alter table "users" add constraint "users_role_check" check ("role" in ('viewer', 'editor', 'admin'));`,
    );

    this.addSql(
      `create table "sessions" ("id" uuid not null, "tenant_id" uuid not null, "user_id" uuid not null, "token_hash" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, primary key ("id"));`,
    );
    this.addSql(`alter table "sessions" add constraint "sessions_token_hash_unique" unique ("token_hash");`);

    this.addSql(
      `create table "videos" ("id" uuid not null, "tenant_id" uuid not null, "sha256" varchar(64) not null, "size_bytes" bigint not null, "duration_ms" int not null, "codec" varchar(32) not null, "width" int not null, "height" int not null, "name" varchar(200) not null, "original_name" varchar(255) not null, "content_type" varchar(100) not null, "thumbnail_sha256" varchar(64) null, "created_by" varchar(64) not null, "created_at" timestamptz(3) not null, primary key ("id"));`,
    );
    this.addSql(`create index "videos_tenant_id_created_at_index" on "videos" ("tenant_id", "created_at");`);
    this.addSql(`create index "videos_sha256_index" on "videos" ("sha256");`);
    this.addSql(`alter table "videos" add constraint "videos_tenant_id_sha256_unique" unique ("tenant_id", "sha256");`);

    this.addSql(
      `create table "playlist_items" ("id" uuid not null, "playlist_id" uuid not null, "position" int not null, "video_id" uuid not null, primary key ("id"));`,
    );
    this.addSql(`create index "playlist_items_video_id_index" on "playlist_items" ("video_id");`);
    this.addSql(
      `alter table "playlist_items" add constraint "playlist_items_playlist_id_position_unique" unique ("playlist_id", "position");`,
    );

    this.addSql(
      `alter table "playlists" add constraint "playlists_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "schedule_rules" add constraint "schedule_rules_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "schedule_rules" add constraint "schedule_rules_playlist_id_foreign" foreign key ("playlist_id") references "playlists" ("id");`,
    );

    this.addSql(
      `alter table "groups" add constraint "groups_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "screens" add constraint "screens_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "screens" add constraint "screens_group_id_foreign" foreign key ("group_id") references "groups" ("id") on delete set null;`,
    );

    this.addSql(
      `alter table "screen_tags" add constraint "screen_tags_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "screen_tags" add constraint "screen_tags_screen_id_foreign" foreign key ("screen_id") references "screens" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "default_playlists" add constraint "default_playlists_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "default_playlists" add constraint "default_playlists_group_id_foreign" foreign key ("group_id") references "groups" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "default_playlists" add constraint "default_playlists_playlist_id_foreign" foreign key ("playlist_id") references "playlists" ("id");`,
    );

    this.addSql(
      `alter table "audit_events" add constraint "audit_events_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "api_tokens" add constraint "api_tokens_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "users" add constraint "users_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "sessions" add constraint "sessions_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "sessions" add constraint "sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "videos" add constraint "videos_tenant_id_foreign" foreign key ("tenant_id") references "tenants" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "playlist_items" add constraint "playlist_items_playlist_id_foreign" foreign key ("playlist_id") references "playlists" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "playlist_items" add constraint "playlist_items_video_id_foreign" foreign key ("video_id") references "videos" ("id");`,
    );
  }
}
