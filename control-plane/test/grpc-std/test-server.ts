import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import {
  ContentService,
  file_avtech_content_v1_content,
  type UploadVideoRequest,
  type UploadVideoResponseSchema,
} from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { FleetService, file_avtech_fleet_v1_fleet } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  createHealthState,
  type HealthState,
  type HealthStatusSource,
  registerGrpcStandardServices,
} from "../../src/platform/grpc-std/index.ts";

/** A running h2c server with our standard services and two real AVTech services. */
export interface StandardServicesServer {
  /** "127.0.0.1:port", for grpc-js and Python grpcio. */
  readonly address: string;
  /** "http://127.0.0.1:port", for buf curl. */
  readonly url: string;
  /** Drives the health service. */
  readonly health: HealthState;
  /** Health listeners currently subscribed (one per open Watch), to see Watch clean up. */
  subscriptions(): number;
  /** Aborts connect-node's `shutdownSignal` with UNAVAILABLE, as a draining server does. */
  shutdown(): void;
  close(): Promise<void>;
}

/** Storage numbers the stub answers, so a test can see a real call went through. */
export const stubStorageUsage = { usedBytes: 1234n, quotaBytes: 10_000n, videoCount: 2 } as const;

/** Echoes the metadata's name and counts the chunk bytes: a client-streaming call to test clients with. */
async function stubUpload(
  requests: AsyncIterable<UploadVideoRequest>,
): Promise<MessageInitShape<typeof UploadVideoResponseSchema>> {
  let name = "";
  let sizeBytes = 0n;
  for await (const { part } of requests) {
    if (part.case === "metadata") name = part.value.name;
    if (part.case === "chunk") sizeBytes += BigInt(part.value.byteLength);
  }
  return { video: { name, sizeBytes } };
}

/**
 * Starts the server on port 0. ContentService answers GetStorageUsage with fixed numbers and
 * UploadVideo with {@link stubUpload} (the rest is unimplemented); FleetService is registered with
 * no methods. That is enough: these tests are about the standard services, and fleet.proto's
 * imports (device, publish, schedule, google/protobuf/timestamp.proto) exercise the reflection
 * dependency walk.
 */
export async function startStandardServicesServer(): Promise<StandardServicesServer> {
  const health = createHealthState({ "": "SERVING", "avtech.content.v1.ContentService": "SERVING" });
  let subscriptions = 0;
  const source: HealthStatusSource = {
    status: (service) => health.status(service),
    subscribe(listener) {
      subscriptions++;
      const unsubscribe = health.subscribe(listener);
      return () => {
        subscriptions--;
        unsubscribe();
      };
    },
  };
  const routes = (router: ConnectRouter): void => {
    router.service(ContentService, { getStorageUsage: () => stubStorageUsage, uploadVideo: stubUpload });
    router.service(FleetService, {});
    registerGrpcStandardServices(router, {
      files: [file_avtech_content_v1_content, file_avtech_fleet_v1_fleet],
      health: source,
    });
  };
  const shutdown = new AbortController();
  const server = http2.createServer(connectNodeAdapter({ routes, shutdownSignal: shutdown.signal }));
  // Streams left open by a failed test must not keep close() waiting.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    health,
    subscriptions: () => subscriptions,
    shutdown: () => shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable)),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
      }),
  };
}
