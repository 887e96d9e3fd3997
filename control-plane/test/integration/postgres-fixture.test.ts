import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../lib/test-database.ts";

describe("the PostgreSQL test fixture", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it("gives each test file its own database on a real PostgreSQL server", async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string; version: string; sum: number }>(
        "SELECT current_database() AS db, version() AS version, 40 + 2 AS sum",
      );
      expect(rows[0]?.db).toBe(database.name);
      expect(rows[0]?.version).toMatch(/^PostgreSQL \d+/);
      expect(rows[0]?.sum).toBe(42);
      expect(["database-url", "testcontainers", "embedded"]).toContain(inject("postgresKind"));
    } finally {
      await client.end();
    }
  });
});
