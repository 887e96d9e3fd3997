import { Migration } from "@mikro-orm/migrations";

/**
 * Drops the status columns the first migration gave `screens` (last seen, desired/applied version,
 * sync status and error). Nothing read or wrote them: a screen's live status is in `screen_status`
 * (Migration20261123230000_fleet), written by the fleet plane's stores.
 */
export class Migration20261125000000_drop_screen_status_columns extends Migration {
  override name = "Migration20261125000000_drop_screen_status_columns";

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "screens" drop column "last_seen_at", drop column "desired_version", drop column "applied_version", drop column "sync_status", drop column "sync_error";`,
    );
  }
}
