import { Migration } from "@mikro-orm/migrations";

/**
 * ListScreens filters and pages in SQL (keyset on `name COLLATE "C", id`): one index per listing
 * scope, the tenant's and a group's. The group one also serves ListGroups' screen counts and
 * DeleteGroup's "is it empty" check, which read `screens` by `group_id`.
 */
export class Migration20261206160000_screen_list_indexes extends Migration {
  override name = "Migration20261206160000_screen_list_indexes";

  override up(): void | Promise<void> {
    this.addSql(`create index "screens_tenant_id_name_id_index" on "screens" ("tenant_id", "name" collate "C", "id");`);
    this.addSql(`create index "screens_group_id_name_id_index" on "screens" ("group_id", "name" collate "C", "id");`);
  }
}
