import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcJsClient, type GrpcJsClient } from "../lib/grpc-js-client.ts";
import { type StandardServicesServer, startStandardServicesServer, stubStorageUsage } from "./test-server.ts";

// The other method kinds of the helper are exercised by the health (server streaming) and
// reflection (bidi) suites beside this one.
describe("the @grpc/grpc-js test client for generated services", () => {
  let server: StandardServicesServer;
  let client: GrpcJsClient<typeof ContentService>;

  beforeAll(async () => {
    server = await startStandardServicesServer();
    client = createGrpcJsClient(ContentService, server.address);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  it("makes unary calls and reports gRPC status codes", async () => {
    expect(await client.call.getStorageUsage({})).toMatchObject(stubStorageUsage);
    await expect(client.call.listVideos({})).rejects.toMatchObject({ code: GrpcStatus.UNIMPLEMENTED });
  });

  it("streams client messages from an async iterable and returns the one answer", async () => {
    async function* upload() {
      yield { part: { case: "metadata" as const, value: { name: "clip" } } };
      yield { part: { case: "chunk" as const, value: new Uint8Array(1000) } };
      yield { part: { case: "chunk" as const, value: new Uint8Array(24) } };
    }
    const response = await client.call.uploadVideo(upload());
    expect(response.video).toMatchObject({ name: "clip", sizeBytes: 1024n });
  });
});
