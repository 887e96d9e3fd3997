/**
 * The real control plane for other workspaces' tests (provisioning's, the image's boot test),
 * through `@avtech/control-plane/testing`: a PostgreSQL from the control plane's
 * own test fixture (DATABASE_URL → testcontainers → embedded), a fresh migrated database, the
 * server assembled exactly as control-plane/src/main.ts assembles it (assembleControlPlane),
 * listening on free ports, and one tenant with an admin API token made by the admin commands.
 *
 * These test projects have no PostgreSQL globalSetup (their fast tests do not need one), so this
 * starts its own server per test file and stops it in close().
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { createAdminCommands } from "../../src/admin/index.ts";
import { openAssetUrlSigner, openBlobStore } from "../../src/app.ts";
import { assembleControlPlane } from "../../src/assemble.ts";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { type Clock, systemClock } from "../../src/platform/clock.ts";
import { type ConfigInput, loadConfig } from "../../src/platform/config/index.ts";
import type { RoleName } from "../../src/platform/db/entities.ts";
import { createOrm, migrate } from "../../src/platform/db/orm.ts";
import { createLogger } from "../../src/platform/logger.ts";
import type { ServerAddresses } from "../../src/platform/server/server.ts";
import { startTestPostgres, type TestPostgres } from "./postgres-fixture.ts";
import { createTestDatabase } from "./test-database.ts";

/** A running control plane with one tenant. */
export interface RealControlPlane {
  addresses: ServerAddresses;
  tenant: { id: string; slug: string };
  /** Secret of an API token with the admin role in {@link tenant}. */
  adminToken: string;
  /** Makes another API token in {@link tenant} with this role, e.g. to test what a non-admin may not do. */
  apiToken(role: RoleName): Promise<string>;
  /** Makes another tenant with an admin API token, e.g. to test that one tenant never sees another's data. */
  otherTenant(): Promise<{ id: string; slug: string; adminToken: string }>;
  /** A Connect (HTTP/1.1) client sending `authorization: Bearer <token>`. */
  client<S extends DescService>(service: S, token: string): Client<S>;
  /** The control plane's database (its own, in the fixture's PostgreSQL), e.g. for the admin CLI. */
  databaseUrl: string;
  /** The blob store's folder. */
  blobDir: string;
  /** Runs SQL on the control plane's database, for facts no RPC exposes. */
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Stops the server, drops the database and stops PostgreSQL when this started it. */
  close(): Promise<void>;
}

/** Options of {@link startRealControlPlane}. */
export interface RealControlPlaneOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /**
   * Superuser URL of a PostgreSQL that is already running (the control plane's own tests pass
   * `inject("postgresAdminUrl")` from their globalSetup). The database is made and dropped in it and
   * the server is left running. Default: start one with the test fixture, stopped by close().
   */
  postgresAdminUrl?: string;
  /** The server's clock; default the system's. A fixed one keeps date-bound tests (reports) true on any day. */
  clock?: Clock;
  /**
   * OS updates (the config's `update`): the RAUC compatible of the fleet's image and the CA keyring its bundles
   * must chain to. Without it UploadRelease is FAILED_PRECONDITION, as on a control plane configured without them.
   */
  update?: { compatible: string; keyringPath: string };
  /**
   * The config's `blobStore` (e.g. an S3 bucket with `presign`), opened as main.ts opens it
   * (openBlobStore, openAssetUrlSigner with `clock`). Default: the file store in a temp folder.
   */
  blobStore?: ConfigInput["blobStore"];
}

/** Starts PostgreSQL, migrates a new database and serves the control plane on `host` (default loopback). */
export async function startRealControlPlane(options: RealControlPlaneOptions = {}): Promise<RealControlPlane> {
  const postgres: Pick<TestPostgres, "adminUrl" | "stop"> = options.postgresAdminUrl
    ? { adminUrl: options.postgresAdminUrl, stop: async () => undefined }
    : await startTestPostgres();
  const cleanups: (() => Promise<unknown>)[] = [() => postgres.stop()];
  const cleanUp = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const database = await createTestDatabase(postgres.adminUrl);
    cleanups.push(() => database.drop());
    const orm = await createOrm({ url: database.url, poolMax: 5 });
    cleanups.push(() => orm.close());
    await migrate(orm);
    const blobDir = await mkdtemp(join(tmpdir(), "avtech-cp-blobs-"));
    cleanups.push(() => rm(blobDir, { recursive: true, force: true }));
    const config = loadConfig({
      env: { LOG_LEVEL: process.env.LOG_LEVEL ?? "silent" },
      overrides: {
        listen: { host: options.host ?? "127.0.0.1", port: 0, http1Port: 0 },
        database: { url: database.url },
        blobDir,
        ...(options.update === undefined ? {} : { update: options.update }),
        ...(options.blobStore === undefined ? {} : { blobStore: options.blobStore }),
      },
    });
    const clock = options.clock ?? systemClock;
    const assetUrls = openAssetUrlSigner(config, clock);
    const controlPlane = await assembleControlPlane({
      config,
      orm,
      blobs: await openBlobStore(config),
      ...(assetUrls ? { assetUrls } : {}),
      logger: createLogger(config),
      clock,
    });
    const addresses = await controlPlane.server.listen();
    cleanups.push(() => controlPlane.close(1000));
    const admin = createAdminCommands(orm, config.defaultTenantQuota);
    const slug = `site-${randomBytes(3).toString("hex")}`;
    const tenant = await admin.createTenant({ slug });
    const token = await admin.createApiToken({ tenant: slug, name: "test admin", role: "admin" });
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    cleanups.push(() => pool.end());
    return {
      addresses,
      tenant: { id: tenant.id, slug },
      adminToken: token.secret,
      apiToken: async (role) => (await admin.createApiToken({ tenant: slug, name: `test ${role}`, role })).secret,
      otherTenant: async () => {
        const other = `site-${randomBytes(3).toString("hex")}`;
        const created = await admin.createTenant({ slug: other });
        const { secret } = await admin.createApiToken({ tenant: other, name: "test admin", role: "admin" });
        return { id: created.id, slug: other, adminToken: secret };
      },
      client: (service, bearer) =>
        createClient(
          service,
          createConnectTransport({
            baseUrl: addresses.http1Url,
            httpVersion: "1.1",
            interceptors: [bearerToken(bearer)],
          }),
        ),
      databaseUrl: database.url,
      blobDir,
      query: async (sql, params) => (await pool.query(sql, params)).rows,
      close: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
