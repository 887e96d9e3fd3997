import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createAdminCommands } from "../../src/admin/index.ts";
import { type AssembledControlPlane, assembleControlPlane } from "../../src/assemble.ts";
import { createFsBlobStore } from "../../src/core/content/index.ts";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { type ConfigSources, loadConfig } from "../../src/platform/config/index.ts";
import { createLogger } from "../../src/platform/logger.ts";
import type { ServerAddresses } from "../../src/platform/server/server.ts";
import { createMigratedDatabase, type MigratedDatabase } from "../lib/migrated-database.ts";

/** The real control plane, assembled as main.ts assembles it, on port 0. */
export interface FleetApp {
  db: MigratedDatabase;
  fleet: AssembledControlPlane["fleet"];
  /** The alert engine (also running on its own every `alerts.evaluateEverySeconds`). */
  alerts: AssembledControlPlane["alerts"];
  addresses: ServerAddresses;
  /** A Connect (HTTP/1.1) client sending `authorization: Bearer <token>`. */
  client<S extends DescService>(service: S, token: string): Client<S>;
  /** Creates a tenant and an admin API token through the admin commands; returns the token. */
  createTenant(slug: string): Promise<{ id: string; adminToken: string }>;
  close(): Promise<void>;
}

/**
 * Starts the control plane (own database and blob folder) with the fleet plane on PostgreSQL.
 * `sources` adds configuration the way an operator gives it (environment variables, the file
 * named by `AVTECH_CONFIG`); the listen address, database and blob folder are always the test's.
 */
export async function startFleetApp(sources: Pick<ConfigSources, "env" | "readFile"> = {}): Promise<FleetApp> {
  const db = await createMigratedDatabase();
  const blobDir = await mkdtemp(join(tmpdir(), "avtech-fleet-blobs-"));
  const config = loadConfig({
    env: { LOG_LEVEL: process.env.LOG_LEVEL, ...sources.env },
    readFile: sources.readFile,
    overrides: { listen: { host: "127.0.0.1", port: 0, http1Port: 0 }, database: { url: db.database.url }, blobDir },
  });
  const controlPlane = await assembleControlPlane({
    config,
    orm: db.orm,
    blobs: createFsBlobStore(blobDir),
    logger: createLogger(config),
    clock: systemClock,
    heartbeatFlushMs: 200,
  });
  const { fleet, alerts } = controlPlane;
  const addresses = await controlPlane.server.listen();
  const admin = createAdminCommands(db.orm, config.defaultTenantQuota);
  return {
    db,
    fleet,
    alerts,
    addresses,
    client: (service, token) =>
      createClient(
        service,
        createConnectTransport({ baseUrl: addresses.http1Url, httpVersion: "1.1", interceptors: [bearerToken(token)] }),
      ),
    async createTenant(slug) {
      const tenant = await admin.createTenant({ slug });
      const { secret } = await admin.createApiToken({ tenant: slug, name: "e2e admin", role: "admin" });
      return { id: tenant.id, adminToken: secret };
    },
    async close() {
      await controlPlane.close(1000);
      await db.close();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}
