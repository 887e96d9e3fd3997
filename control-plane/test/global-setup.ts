import type { TestProject } from "vitest/node";
import { startTestPostgres } from "./lib/postgres-fixture.ts";

declare module "vitest" {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    postgresKind: string;
  }
}

/** Starts one PostgreSQL for the whole run; each test file creates its own database in it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const postgres = await startTestPostgres();
  project.provide("postgresAdminUrl", postgres.adminUrl);
  project.provide("postgresKind", postgres.kind);
  return () => postgres.stop();
}
