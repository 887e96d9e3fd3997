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

  it("migrates once when several replicas start on a fresh database together", async () => {
    const fresh = await createTestDatabase();
    const orms = await Promise.all([1, 2, 3].map(() => createOrm({ url: fresh.url, poolMax: 2 })));
    try {
      const results = await Promise.all(orms.map((orm) => migrate(orm)));
      // One replica applied everything; the others waited for it and found nothing left.
      expect(results.map((names) => names.length).sort((a, b) => a - b)).toEqual([0, 0, migrations.length]);
    } finally {
      await Promise.all(orms.map((orm) => orm.close()));
      await fresh.drop();
    }
  });
});
