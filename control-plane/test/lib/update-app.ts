import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import pg from "pg";
import { createAdminCommands } from "../../src/admin/index.ts";
import { type AssembledControlPlane, assembleControlPlane } from "../../src/assemble.ts";
import { createFsBlobStore } from "../../src/core/content/index.ts";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { systemClock } from "../../src/platform/clock.ts";
import { type ConfigInput, loadConfig } from "../../src/platform/config/index.ts";
import { createLogger } from "../../src/platform/logger.ts";
import type { ServerAddresses } from "../../src/platform/server/server.ts";
import { createMigratedDatabase, type MigratedDatabase } from "./migrated-database.ts";
import { createTestTenant, filesUnder, type TestTenant } from "./test-app.ts";

/** The whole control plane (assembleControlPlane, as main.ts runs it), restartable on the same database. */
export interface UpdateApp {
  db: MigratedDatabase;
  blobDir: string;
  /** The running process's parts (replaced by {@link restart}). */
  readonly plane: AssembledControlPlane;
  readonly addresses: ServerAddresses;
  /** A client sending `authorization: Bearer <token>`: Connect over HTTP/1.1, or gRPC over HTTP/2 (h2c). */
  client<S extends DescService>(service: S, token: string, transport?: "connect" | "grpc"): Client<S>;
  createTenant(slug: string): Promise<TestTenant>;
  /** Runs SQL on the database. */
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Every file under the blob folder (relative paths), to assert no leftovers. */
  blobFiles(): Promise<string[]>;
  /** Stops the control plane (streams end, nothing more is published) without starting it again. */
  stop(): Promise<void>;
  /** Starts a new control plane process on the same database and blob folder (new ports). */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the control plane with its own database and blob folder; `overrides` adjust the config. */
export async function startUpdateApp(overrides: ConfigInput = {}): Promise<UpdateApp> {
  const db = await createMigratedDatabase();
  const blobDir = await mkdtemp(join(tmpdir(), "avtech-update-blobs-"));
  const config = loadConfig({
    env: { LOG_LEVEL: process.env.LOG_LEVEL },
    overrides: {
      ...overrides,
      listen: { host: "127.0.0.1", port: 0, http1Port: 0 },
      database: { url: db.database.url },
      blobDir,
    },
  });
  const pool = new pg.Pool({ connectionString: db.database.url, max: 2 });
  const admin = createAdminCommands(db.orm, config.defaultTenantQuota);
  let plane: AssembledControlPlane | undefined;
  let addresses: ServerAddresses | undefined;
  let sessions: Http2SessionManager | undefined;
  const running = () => {
    if (!plane || !addresses || !sessions) throw new Error("the control plane is stopped");
    return { plane, addresses, sessions };
  };
  const start = async () => {
    plane = await assembleControlPlane({
      config,
      orm: db.orm,
      blobs: createFsBlobStore(blobDir),
      logger: createLogger(config),
      clock: systemClock,
      heartbeatFlushMs: 200,
      // Tests enroll dozens of screens from one address at once.
      registrationRateLimits: { perIp: { burst: 1000, perSecond: 100 }, global: { burst: 1000, perSecond: 100 } },
    });
    addresses = await plane.server.listen();
    sessions = new Http2SessionManager(addresses.http2Url);
  };
  const stop = async () => {
    sessions?.abort();
    await plane?.close(500);
    plane = undefined;
    addresses = undefined;
    sessions = undefined;
  };
  await start();
  return {
    db,
    blobDir,
    get plane() {
      return running().plane;
    },
    get addresses() {
      return running().addresses;
    },
    client(service, token, transport = "connect") {
      const current = running();
      const interceptors = [bearerToken(token)];
      return createClient(
        service,
        transport === "grpc"
          ? createGrpcTransport({ baseUrl: current.addresses.http2Url, sessionManager: current.sessions, interceptors })
          : createConnectTransport({ baseUrl: current.addresses.http1Url, httpVersion: "1.1", interceptors }),
      );
    },
    createTenant: (slug) => createTestTenant(admin, slug),
    query: async (sql, params) => (await pool.query(sql, params)).rows,
    blobFiles: () => filesUnder(blobDir),
    stop,
    start,
    async close() {
      await stop();
      await pool.end();
      await db.close();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
}
