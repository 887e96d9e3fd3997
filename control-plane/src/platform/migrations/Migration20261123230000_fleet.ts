import { Migration } from "@mikro-orm/migrations";

/**
 * The fleet plane's tables (plain SQL stores in src/fleet/pg, no MikroORM entities: the ORM is told
 * to skip them through `tablesWithoutEntities` in src/platform/db/orm.ts) and the per-screen device facts the core's screens table lacks (`screen_devices`).
 * The constraints carry the concurrency rules: unique live pairing codes, unique enrollment-key
 * hashes, unique (screen, version) desired states, unique (screen, event_id) play events.
 */
export class Migration20261123230000_fleet extends Migration {
  override name = "Migration20261123230000_fleet";

  override up(): void | Promise<void> {
    // What the player says about itself and the UpdateScreen revision, beside the core's screens row.
    this.addSql(
      `create table "screen_devices" ("screen_id" uuid not null primary key references "screens" ("id") on delete cascade, "model" varchar(200) not null default '', "os_version" varchar(200) not null default '', "player_version" varchar(200) not null default '', "first_seen_at" timestamptz not null, "revision" int not null default 1);`,
    );

    this.addSql(
      `create table "pairing_codes" ("id" bigint generated always as identity primary key, "code" varchar(8) not null, "secret_hash" varchar(64) not null, "hardware_id" varchar(200) not null, "facts" bytea null, "ip" varchar(100) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "claimed_tenant_id" uuid null, "claimed_screen_id" uuid null, "delivered" boolean not null default false);`,
    );
    // A code is live until claimed (expired rows are removed before a code is drawn again).
    this.addSql(
      `create unique index "pairing_codes_live_code_unique" on "pairing_codes" ("code") where "claimed_screen_id" is null;`,
    );
    this.addSql(
      `alter table "pairing_codes" add constraint "pairing_codes_secret_hash_unique" unique ("secret_hash");`,
    );
    this.addSql(`create index "pairing_codes_expires_at_index" on "pairing_codes" ("expires_at");`);

    this.addSql(
      `create table "enrollment_keys" ("id" uuid not null primary key, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "name" varchar(200) not null, "group_id" uuid null references "groups" ("id") on delete set null, "secret_hash" varchar(64) not null, "max_uses" int not null default 0, "uses" int not null default 0, "expires_at" timestamptz null, "created_at" timestamptz not null default now());`,
    );
    this.addSql(
      `alter table "enrollment_keys" add constraint "enrollment_keys_secret_hash_unique" unique ("secret_hash");`,
    );

    // Same DDL as desiredStateTableDdl (src/fleet/publish), copied so this migration never changes after release.
    this.addSql(
      `create table if not exists "desired_state" ("screen_id" text not null, "version" bigint not null check ("version" >= 1), "content_hash" text not null, "document" bytea not null, "created_at" timestamptz not null default now(), primary key ("screen_id", "version"));`,
    );

    this.addSql(
      `create table "screen_status" ("screen_id" uuid not null primary key references "screens" ("id") on delete cascade, "last_seen_at" timestamptz null, "heartbeat_interval_seconds" int not null default 15, "stream_open" boolean not null default false, "ip_address" varchar(100) not null default '', "desired_version" bigint not null default 0, "applied_version" bigint not null default 0, "desired_at" timestamptz null, "last_sync_error" text not null default '', "last_failed_version" bigint not null default 0, "last_health" bytea null, "playback" bytea null);`,
    );

    this.addSql(
      `create table "commands" ("id" uuid not null primary key, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "screen_id" uuid not null references "screens" ("id") on delete cascade, "kind" int not null, "identify_seconds" int not null default 0, "issued_at" timestamptz not null, "expires_at" timestamptz not null, "issued_by" varchar(64) not null, "status" int not null, "result_message" text not null default '', "completed_at" timestamptz null, "has_screenshot" boolean not null default false);`,
    );
    this.addSql(`create index "commands_screen_id_status_index" on "commands" ("screen_id", "status", "issued_at");`);
    this.addSql(
      `create index "commands_tenant_id_screen_id_index" on "commands" ("tenant_id", "screen_id", "issued_at");`,
    );

    this.addSql(
      `create table "screenshots" ("command_id" uuid not null primary key references "commands" ("id") on delete cascade, "png" bytea not null, "taken_at" timestamptz not null);`,
    );

    this.addSql(
      `create table "health_samples" ("id" bigint generated always as identity primary key, "screen_id" uuid not null references "screens" ("id") on delete cascade, "at" timestamptz not null, "health" bytea not null);`,
    );
    this.addSql(`create index "health_samples_screen_id_at_index" on "health_samples" ("screen_id", "at");`);
    this.addSql(`create index "health_samples_at_index" on "health_samples" ("at");`);

    this.addSql(
      `create table "play_events" ("tenant_id" uuid not null references "tenants" ("id") on delete cascade, "screen_id" uuid not null references "screens" ("id") on delete cascade, "event_id" varchar(100) not null, "started_at" timestamptz null, "event" bytea not null, primary key ("screen_id", "event_id"));`,
    );
    this.addSql(`create index "play_events_tenant_id_started_at_index" on "play_events" ("tenant_id", "started_at");`);
  }
}
