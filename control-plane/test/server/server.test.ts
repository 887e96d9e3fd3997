import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "@avtech/proto/gen/grpc/health/v1/health_pb.js";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";

const run = promisify(execFile);

describe("server without TLS (two ports)", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it("serves /healthz, /readyz and /metrics beside Connect", async () => {
    expect((await fetch(`${app.addresses.http1Url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${app.addresses.http1Url}/readyz`)).text()).toBe("ready\n");
    await expect(app.client(ContentService).listVideos({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    const metrics = await (await fetch(`${app.addresses.http1Url}/metrics`)).text();
    expect(metrics).toContain(
      'avtech_rpc_requests_total{procedure="avtech.content.v1.ContentService/ListVideos",code="unauthenticated"} 1',
    );
    expect(metrics).toContain("avtech_stored_bytes 0");
    expect((await fetch(`${app.addresses.http1Url}/nope`)).status).toBe(404);
  });

  it("answers grpc.health.v1 from database readiness, over gRPC on the h2c port", async () => {
    const health = createClient(Health, app.grpc);
    expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await health.check({ service: "avtech.content.v1.ContentService" })).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
  });

  it("answers fleet-side services with UNIMPLEMENTED and a clear message", async () => {
    const tenant = await app.createTenant("acme");
    const { FleetService } = await import("@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js");
    await expect(app.client(FleetService, tenant.tokens.viewer).listScreens({})).rejects.toMatchObject({
      code: Code.Unimplemented,
      rawMessage: "avtech.fleet.v1.FleetService/ListScreens is not available on this control plane yet",
    });
  });
});

describe("server with TLS (one port for gRPC, gRPC-Web and Connect)", () => {
  let app: TestApp;
  let tenant: TestTenant;
  let dir: string;
  let ca: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "avtech-tls-"));
    const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ]);
    ca = await readFile(cert);
    app = await startTestApp({ tls: { certFile: cert, keyFile: key } });
    tenant = await app.createTenant("acme");
  });
  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("listens on one port and serves HTTP/2 gRPC and HTTP/1.1 Connect on it", async () => {
    expect(app.addresses.http1Port).toBeUndefined();
    expect(app.addresses.http1Url).toBe(app.addresses.http2Url);
    const bearer = bearerToken(tenant.tokens.viewer);
    const sessions = new Http2SessionManager(app.addresses.http2Url, undefined, { ca });
    try {
      const overGrpc = createClient(
        ContentService,
        createGrpcTransport({ baseUrl: app.addresses.http2Url, sessionManager: sessions, interceptors: [bearer] }),
      );
      const overHttp1 = createClient(
        ContentService,
        createConnectTransport({
          baseUrl: app.addresses.http1Url,
          httpVersion: "1.1",
          nodeOptions: { ca },
          interceptors: [bearer],
        }),
      );
      expect((await overGrpc.getStorageUsage({})).videoCount).toBe(0);
      expect((await overHttp1.getStorageUsage({})).videoCount).toBe(0);
    } finally {
      sessions.abort();
    }
  });
});

describe("graceful shutdown", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it("lets a running upload finish, then refuses new connections", async () => {
    const tenant = await app.createTenant("acme");
    const { createClipFactory } = await import("../lib/clips.ts");
    const clips = await createClipFactory();
    const sessions = new GoAwayWatcher(app.addresses.http2Url);
    try {
      const bytes = await readFile(await clips.video("drain.mp4", { seconds: 2 }));
      // The server has seen the upload's stream once its HEADERS are in: GOAWAY refuses only streams it has not seen.
      const streamSeen = new Promise<void>((resolve) => {
        const onStream = (_stream: unknown, headers: http2.IncomingHttpHeaders) => {
          if (!String(headers[":path"]).endsWith("/UploadVideo")) return;
          app.server.http2Server.off("stream", onStream);
          resolve();
        };
        app.server.http2Server.on("stream", onStream);
      });
      let closing: Promise<void> | undefined;
      async function* slowUpload() {
        yield { part: { case: "metadata" as const, value: { fileName: "drain.mp4" } } };
        yield { part: { case: "chunk" as const, value: bytes.subarray(0, 1000) } };
        await streamSeen;
        closing = app.server.close(10_000);
        // The rest goes out only once the client has the server's GOAWAY: the upload then runs on a closing session.
        await sessions.goAway;
        yield { part: { case: "chunk" as const, value: bytes.subarray(1000) } };
      }
      const client = createClient(
        ContentService,
        createGrpcTransport({
          baseUrl: app.addresses.http2Url,
          sessionManager: sessions,
          interceptors: [bearerToken(tenant.tokens.editor)],
        }),
      );
      const { video } = await client.uploadVideo(slowUpload());
      expect(video?.sizeBytes).toBe(BigInt(bytes.length));
      await closing;
      await expect(fetch(`${app.addresses.http1Url}/healthz`)).rejects.toThrow();
    } finally {
      sessions.abort();
      await clips.remove();
    }
  });
});

/** A session manager whose `goAway` settles when a session it opened receives a GOAWAY frame. */
class GoAwayWatcher extends Http2SessionManager {
  readonly goAway: Promise<void>;
  readonly #received: () => void;

  constructor(url: string) {
    super(url);
    const { promise, resolve } = Promise.withResolvers<void>();
    this.goAway = promise;
    this.#received = resolve;
  }

  override async request(...args: Parameters<Http2SessionManager["request"]>): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    stream.session?.once("goaway", this.#received);
    return stream;
  }
}
