import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { createAdminCommands } from "../../src/admin/index.ts";
import { buildControlPlaneServer } from "../../src/assemble.ts";
import { createFsBlobStore } from "../../src/core/content/index.ts";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { type ConfigInput, loadConfig } from "../../src/platform/config/index.ts";
import { startEmbeddedPostgres } from "../../src/platform/db/embedded-postgres.ts";
import { createOrm, type MikroORM, migrate } from "../../src/platform/db/orm.ts";
import { createLogger } from "../../src/platform/logger.ts";
import type { ServerAddresses } from "../../src/platform/server/server.ts";

/** A control plane on its own embedded PostgreSQL under os.tmpdir(), for one benchmark script. */
export interface BenchApp {
  orm: MikroORM;
  addresses: ServerAddresses;
  tenantId: string;
  editorToken: string;
  /** Folder for the bench's own files (removed by close). */
  workDir: string;
  client<S extends DescService>(service: S, transport: "grpc" | "connect"): Client<S>;
  close(): Promise<void>;
}

/** Starts PostgreSQL, migrates, starts the server on free ports and creates a tenant with an editor token. */
export async function startBenchApp(overrides: ConfigInput = {}): Promise<BenchApp> {
  const workDir = await mkdtemp(join(tmpdir(), "avtech-bench-"));
  const pg = await startEmbeddedPostgres({ dataDir: join(workDir, "pg") });
  const orm = await createOrm({ url: pg.url });
  await migrate(orm);
  const config = loadConfig({
    env: { LOG_LEVEL: "warn" },
    overrides: {
      ...overrides,
      listen: { host: "127.0.0.1", port: 0, http1Port: 0 },
      database: { url: pg.url },
      blobDir: join(workDir, "blobs"),
    },
  });
  // The core alone (the content benchmarks need no fleet side), built as assembleControlPlane builds it.
  const server = buildControlPlaneServer({
    config,
    orm,
    blobs: createFsBlobStore(config.blobDir),
    logger: createLogger(config),
    clock: systemClock,
  });
  const addresses = await server.listen();
  const admin = createAdminCommands(orm, { storageBytes: 100 * 1024 ** 3, screens: 100 });
  const tenant = await admin.createTenant({ slug: "bench" });
  const { secret } = await admin.createApiToken({ tenant: "bench", name: "bench", role: "editor" });
  const bearer = bearerToken(secret);
  const sessions = new Http2SessionManager(addresses.http2Url);
  return {
    orm,
    addresses,
    tenantId: tenant.id,
    editorToken: secret,
    workDir,
    client(service, transport) {
      return createClient(
        service,
        transport === "grpc"
          ? createGrpcTransport({ baseUrl: addresses.http2Url, sessionManager: sessions, interceptors: [bearer] })
          : createConnectTransport({ baseUrl: addresses.http1Url, httpVersion: "1.1", interceptors: [bearer] }),
      );
    },
    async close() {
      sessions.abort();
      await server.close(1000);
      await orm.close();
      await pg.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** The q-quantile (0..1) of `values` (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}
