import { Migration } from "@mikro-orm/migrations";

/** Enrollment keys can be revoked (FleetService.RevokeEnrollmentKey); a revoked key enrolls no screen. */
export class Migration20261124020000_enrollment_key_revocation extends Migration {
  override name = "Migration20261124020000_enrollment_key_revocation";

  override up(): void | Promise<void> {
    this.addSql(`alter table "enrollment_keys" add column "revoked_at" timestamptz null;`);
    this.addSql(
      `create index "enrollment_keys_tenant_created_index" on "enrollment_keys" ("tenant_id", "created_at");`,
    );
  }
}
