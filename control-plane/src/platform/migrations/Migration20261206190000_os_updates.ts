import { Migration } from "@mikro-orm/migrations";

/**
 * Over-the-air OS updates (issue 13; plain SQL stores in src/fleet/update, no entities, listed in
 * `tablesWithoutEntities`). The constraints carry the rules: one live release per (tenant, version),
 * at most one unfinished rollout per screen (`update_rollout_screens_one_active`), and at most one
 * rollout's OsUpdate offered to a screen at a time (`update_rollout_screens_one_offered`). What the
 * player says about its OS image in Hello goes beside its other live status in `screen_status`.
 */
export class Migration20261206190000_os_updates extends Migration {
  override name = "Migration20261206190000_os_updates";

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "screen_status" add column "image_version" varchar(200) not null default '', add column "booted_slot" varchar(32) not null default '';`,
    );

    // A deleted release keeps its row (rollouts and screen histories name it) but loses its bundle.
    this.addSql(
      `create table "update_releases" ("id" uuid not null primary key, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "version" varchar(200) not null, "compatible" varchar(200) not null, "sha256" varchar(64) not null, "size_bytes" bigint not null, "signer" varchar(1000) not null default '', "notes" varchar(2000) not null default '', "uploaded_at" timestamptz(3) not null, "uploaded_by" varchar(64) not null, "deleted_at" timestamptz null);`,
    );
    this.addSql(
      `create unique index "update_releases_tenant_version_unique" on "update_releases" ("tenant_id", "version") where "deleted_at" is null;`,
    );
    this.addSql(
      `create index "update_releases_tenant_uploaded_index" on "update_releases" ("tenant_id", "uploaded_at", "id");`,
    );
    this.addSql(`create index "update_releases_sha256_index" on "update_releases" ("sha256");`);

    this.addSql(
      `create table "update_rollouts" ("id" uuid not null primary key, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "release_id" uuid not null references "update_releases" ("id"), "state" smallint not null, "pause_reason" smallint not null default 0, "max_failure_percent" smallint not null check ("max_failure_percent" between 0 and 100), "reboot_policy" smallint not null, "current_wave" int not null default 0, "created_at" timestamptz(3) not null, "created_by" varchar(64) not null, "updated_at" timestamptz(3) not null);`,
    );
    this.addSql(
      `create index "update_rollouts_tenant_created_index" on "update_rollouts" ("tenant_id", "created_at", "id");`,
    );
    this.addSql(`create index "update_rollouts_release_index" on "update_rollouts" ("release_id");`);
    this.addSql(
      `create index "update_rollouts_unfinished_index" on "update_rollouts" ("state") where "state" in (1, 2);`,
    );

    this.addSql(
      `create table "update_rollout_waves" ("rollout_id" uuid not null references "update_rollouts" ("id") on delete cascade, "wave" int not null, "percent" smallint not null, "screen_count" int not null, "failures_accepted" int not null default 0, "started_at" timestamptz(3) null, "finished_at" timestamptz(3) null, primary key ("rollout_id", "wave"));`,
    );

    // One row per (rollout, screen): the screen's current phase in that rollout.
    this.addSql(
      `create table "update_rollout_screens" ("rollout_id" uuid not null references "update_rollouts" ("id") on delete cascade, "screen_id" uuid not null references "screens" ("id") on delete cascade, "tenant_id" uuid not null, "wave" int not null, "phase" smallint not null, "active" boolean not null default true, "offered" boolean not null default false, "bytes_done" bigint not null default 0, "bytes_total" bigint not null default 0, "reason" smallint not null default 0, "message" varchar(1000) not null default '', "updated_at" timestamptz(3) not null, primary key ("rollout_id", "screen_id"));`,
    );
    this.addSql(
      `create unique index "update_rollout_screens_one_active" on "update_rollout_screens" ("screen_id") where "active";`,
    );
    this.addSql(
      `create unique index "update_rollout_screens_one_offered" on "update_rollout_screens" ("screen_id") where "offered";`,
    );
    this.addSql(
      `create index "update_rollout_screens_wave_index" on "update_rollout_screens" ("rollout_id", "wave", "phase");`,
    );
    this.addSql(`create index "update_rollout_screens_screen_index" on "update_rollout_screens" ("screen_id");`);

    // Every phase change of a screen in a rollout (ListScreenUpdates).
    this.addSql(
      `create table "update_screen_events" ("id" bigint generated always as identity primary key, "rollout_id" uuid not null references "update_rollouts" ("id") on delete cascade, "screen_id" uuid not null references "screens" ("id") on delete cascade, "wave" int not null, "phase" smallint not null, "bytes_done" bigint not null default 0, "bytes_total" bigint not null default 0, "reason" smallint not null default 0, "message" varchar(1000) not null default '', "at" timestamptz(3) not null);`,
    );
    this.addSql(`create index "update_screen_events_screen_index" on "update_screen_events" ("screen_id", "id");`);

    // Screens whose OsUpdate offer changed and whose desired state is still to be published:
    // written in the transaction that changed the offer, removed once published, so a crash
    // between the two is repaired by the next start.
    this.addSql(`create sequence "update_publish_outbox_seq";`);
    this.addSql(
      `create table "update_publish_outbox" ("screen_id" uuid not null primary key references "screens" ("id") on delete cascade, "tenant_id" uuid not null, "seq" bigint not null default nextval('update_publish_outbox_seq'));`,
    );
  }
}
