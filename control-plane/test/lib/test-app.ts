import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { type AdminCommands, createAdminCommands } from "../../src/admin/index.ts";
import { buildControlPlaneServer } from "../../src/assemble.ts";
import { createFsBlobStore } from "../../src/core/content/index.ts";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { type ConfigInput, loadConfig } from "../../src/platform/config/index.ts";
import { createLogger } from "../../src/platform/logger.ts";
import type { ControlPlaneServer, ServerAddresses } from "../../src/platform/server/server.ts";
import { createMigratedDatabase, type MigratedDatabase } from "./migrated-database.ts";

/** A tenant with one token per role. */
export interface TestTenant {
  id: string;
  slug: string;
  tokens: { admin: string; editor: string; viewer: string };
}

/** A running control plane on port 0 with its own database and blob folder. */
export interface TestApp {
  db: MigratedDatabase;
  server: ControlPlaneServer;
  addresses: ServerAddresses;
  blobDir: string;
  /** Connect protocol over HTTP/1.1. */
  connect: Transport;
  /** gRPC over HTTP/2 (h2c). */
  grpc: Transport;
  /** A client with `authorization: Bearer <token>` on every call. */
  client<S extends DescService>(service: S, token?: string, transport?: "connect" | "grpc"): Client<S>;
  createTenant(slug: string, options?: { storageQuotaBytes?: number }): Promise<TestTenant>;
  /** Every file under the blob folder (relative paths), to assert no leftovers. */
  blobFiles(): Promise<string[]>;
  close(): Promise<void>;
}

/** Starts a control plane for one test file. `overrides` adjust the config (e.g. small limits). */
export async function startTestApp(overrides: ConfigInput = {}): Promise<TestApp> {
  const db = await createMigratedDatabase();
  const blobDir = await mkdtemp(join(tmpdir(), "avtech-blobs-"));
  const config = loadConfig({
    env: { LOG_LEVEL: process.env.LOG_LEVEL },
    overrides: {
      ...overrides,
      listen: { host: "127.0.0.1", port: 0, http1Port: 0 },
      database: { url: db.database.url },
      blobDir,
    },
  });
  // The core alone, built as assembleControlPlane builds it: the fleet-side services answer UNIMPLEMENTED.
  const server = buildControlPlaneServer({
    config,
    orm: db.orm,
    blobs: createFsBlobStore(blobDir),
    logger: createLogger(config),
    clock: systemClock,
  });
  const addresses = await server.listen();
  const sessionManager = new Http2SessionManager(addresses.http2Url);
  const connect = createConnectTransport({ baseUrl: addresses.http1Url, httpVersion: "1.1" });
  const grpc = createGrpcTransport({ baseUrl: addresses.http2Url, sessionManager });
  const admin = createAdminCommands(db.orm, config.defaultTenantQuota);
  return {
    db,
    server,
    addresses,
    blobDir,
    connect,
    grpc,
    client(service, token, transport = "connect") {
      const base = transport === "grpc" ? addresses.http2Url : addresses.http1Url;
      const interceptors = token ? [bearerToken(token)] : [];
      const t =
        transport === "grpc"
          ? createGrpcTransport({ baseUrl: base, sessionManager, interceptors })
          : createConnectTransport({ baseUrl: base, httpVersion: "1.1", interceptors });
      return createClient(service, t);
    },
    createTenant: (slug, options = {}) => createTestTenant(admin, slug, options),
    blobFiles: () => filesUnder(blobDir),
    async close() {
      sessionManager.abort();
      await server.close(1000);
      await db.close();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}

/** A tenant with one API token per role, made through the admin commands. */
export async function createTestTenant(
  admin: AdminCommands,
  slug: string,
  options: { storageQuotaBytes?: number } = {},
): Promise<TestTenant> {
  const tenant = await admin.createTenant({ slug, storageQuotaBytes: options.storageQuotaBytes });
  const token = async (role: "admin" | "editor" | "viewer") =>
    (await admin.createApiToken({ tenant: slug, name: `${role} token`, role })).secret;
  return {
    id: tenant.id,
    slug,
    tokens: { admin: await token("admin"), editor: await token("editor"), viewer: await token("viewer") },
  };
}

/** Every file under `dir` (paths relative to it), to assert no leftovers. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}
