import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrm, migrate } from "../../src/platform/db/orm.ts";
import { migrations } from "../../src/platform/migrations/index.ts";
import { createTestDatabase, type TestDatabase } from "../lib/test-database.ts";

describe("migrations", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("migrate a fresh database and leave nothing for the entities to change", async () => {
    const orm = await createOrm({ url: database.url, poolMax: 2 });
    try {
      const applied = await migrate(orm);
      expect(applied).toEqual(migrations.map((m) => m.name));
      const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false });
      expect(diff.trim(), "entities changed without a migration: run the generator and commit it").toBe("");
      expect(await migrate(orm), "a second run applies nothing").toEqual([]);
    } finally {
      await orm.close();
    }
  });
});
