import { createOrm, type MikroORM, migrate } from "../../src/platform/db/orm.ts";
import { createTestDatabase, type TestDatabase } from "./test-database.ts";

/** A test file's own database with every migration applied, and an ORM connected to it. */
export interface MigratedDatabase {
  database: TestDatabase;
  orm: MikroORM;
  /** Closes the ORM and drops the database. */
  close(): Promise<void>;
}

/** Creates a fresh database, migrates it and connects an ORM. */
export async function createMigratedDatabase(): Promise<MigratedDatabase> {
  const database = await createTestDatabase();
  const orm = await createOrm({ url: database.url, poolMax: 5 });
  await migrate(orm);
  return {
    database,
    orm,
    close: async () => {
      await orm.close();
      await database.drop();
    },
  };
}
