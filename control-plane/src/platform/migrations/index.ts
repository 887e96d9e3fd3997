import type { MigrationObject } from "@mikro-orm/core";
import { Migration20261123212853_initial } from "./Migration20261123212853_initial.ts";
import { Migration20261123230000_fleet } from "./Migration20261123230000_fleet.ts";
import { Migration20261124020000_enrollment_key_revocation } from "./Migration20261124020000_enrollment_key_revocation.ts";
import { Migration20261125000000_drop_screen_status_columns } from "./Migration20261125000000_drop_screen_status_columns.ts";
import { Migration20261206160000_screen_list_indexes } from "./Migration20261206160000_screen_list_indexes.ts";
import { Migration20261206190000_os_updates } from "./Migration20261206190000_os_updates.ts";
import { Migration20261206200000_play_reports } from "./Migration20261206200000_play_reports.ts";
import { Migration20261206220000_alerts } from "./Migration20261206220000_alerts.ts";

/**
 * Every migration, oldest first. Listed statically (rather than discovered from the folder) so
 * they load the same way under Node, vitest and the benchmarks. Add new ones at the end.
 */
export const migrations: MigrationObject[] = [
  { name: "Migration20261123212853_initial", class: Migration20261123212853_initial },
  { name: "Migration20261123230000_fleet", class: Migration20261123230000_fleet },
  {
    name: "Migration20261124020000_enrollment_key_revocation",
    class: Migration20261124020000_enrollment_key_revocation,
  },
  {
    name: "Migration20261125000000_drop_screen_status_columns",
    class: Migration20261125000000_drop_screen_status_columns,
  },
  { name: "Migration20261206160000_screen_list_indexes", class: Migration20261206160000_screen_list_indexes },
  { name: "Migration20261206190000_os_updates", class: Migration20261206190000_os_updates },
  { name: "Migration20261206200000_play_reports", class: Migration20261206200000_play_reports },
  { name: "Migration20261206220000_alerts", class: Migration20261206220000_alerts },
];
