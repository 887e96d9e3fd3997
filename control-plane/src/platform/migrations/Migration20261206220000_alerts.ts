import { Migration } from "@mikro-orm/migrations";

/**
 * Alerts (issue 15, alerts half; src/fleet/alert): rule overrides per tenant (no row = the
 * default), alerts with at most one open per tenant, screen and rule (a partial unique index, so
 * two replicas evaluating at once cannot open it twice), notification channels, and the delivery
 * outbox whose rows with `dead_at` set are the dead letters. Plain SQL tables of the fleet (no
 * entities; listed in `tablesWithoutEntities`).
 */
export class Migration20261206220000_alerts extends Migration {
  override name = "Migration20261206220000_alerts";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "alert_rules" ("tenant_id" uuid not null references "tenants" ("id") on delete cascade, "kind" smallint not null, "enabled" boolean not null, "threshold" double precision not null, "updated_at" timestamptz not null, primary key ("tenant_id", "kind"));`,
    );
    // open_notified / resolve_notified: whether the opening and the resolution have been turned
    // into notifications (set in the same transaction as the outbox rows, so each is sent once).
    this.addSql(
      `create table "alerts" ("id" uuid not null primary key, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "screen_id" uuid not null references "screens" ("id") on delete cascade, "kind" smallint not null, "detail" text not null, "opened_at" timestamptz not null, "updated_at" timestamptz not null, "resolved_at" timestamptz null, "acknowledged_at" timestamptz null, "acknowledged_by" varchar(64) not null default '', "open_notified" boolean not null default false, "resolve_notified" boolean not null default false);`,
    );
    this.addSql(
      `create unique index "alerts_open_unique" on "alerts" ("tenant_id", "screen_id", "kind") where "resolved_at" is null;`,
    );
    this.addSql(`create index "alerts_tenant_id_opened_at_index" on "alerts" ("tenant_id", "opened_at" desc, "id");`);
    this.addSql(
      `create index "alerts_unnotified_index" on "alerts" ("tenant_id") where not "open_notified" or ("resolved_at" is not null and not "resolve_notified");`,
    );
    this.addSql(
      `create table "alert_channels" ("id" uuid not null primary key, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "name" varchar(200) not null, "kind" smallint not null, "url" text not null default '', "secret" text not null default '', "recipients" text[] not null default '{}', "created_at" timestamptz not null);`,
    );
    this.addSql(`create index "alert_channels_tenant_id_index" on "alert_channels" ("tenant_id");`);
    // One row per notification and channel. Delivered rows keep delivered_at for a day: the
    // per-minute bound counts them. dead_at set = a dead letter.
    this.addSql(
      `create table "alert_outbox" ("id" uuid not null primary key, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "channel_id" uuid not null references "alert_channels" ("id") on delete cascade, "notification_id" uuid not null, "subject" text not null, "payload" jsonb not null, "created_at" timestamptz not null, "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "last_error" text not null default '', "last_attempt_at" timestamptz null, "delivered_at" timestamptz null, "dead_at" timestamptz null);`,
    );
    this.addSql(
      `create index "alert_outbox_due_index" on "alert_outbox" ("next_attempt_at") where "delivered_at" is null and "dead_at" is null;`,
    );
    this.addSql(`create index "alert_outbox_channel_created_index" on "alert_outbox" ("channel_id", "created_at");`);
    this.addSql(
      `create index "alert_outbox_dead_index" on "alert_outbox" ("tenant_id", "dead_at" desc) where "dead_at" is not null;`,
    );
  }
}
