import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";

/** A database of its own for one test file, dropped by `drop()`. */
export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * Creates an empty database on the run's PostgreSQL (see postgres-fixture.ts), or on `adminUrl`
 * for test projects that start their own PostgreSQL instead of the control plane's globalSetup.
 */
export async function createTestDatabase(adminUrl: string = inject("postgresAdminUrl")): Promise<TestDatabase> {
  const name = `avtech_test_${randomBytes(6).toString("hex")}`;
  await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await withAdminClient(adminUrl, async (client) => {
        // pool.end() resolves before PostgreSQL has seen every client go: give the closing
        // connections a moment, or FORCE kills them mid-goodbye and their client emits an
        // unhandled 57P01 error in the test file that closed them.
        for (let waited = 0; waited < 2000; waited += 20) {
          const { rows } = await client.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
            [name],
          );
          if (rows[0]?.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
    },
  };
}

async function withAdminClient<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
