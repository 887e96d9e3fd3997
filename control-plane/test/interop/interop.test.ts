import { readFile } from "node:fs/promises";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { createGrpcJsClient, type GrpcJsClient } from "../lib/grpc-js-client.ts";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";

describe("stock clients", () => {
  let app: TestApp;
  let clips: ClipFactory;
  let tenant: TestTenant;
  let grpcJs: GrpcJsClient<typeof ContentService>;

  beforeAll(async () => {
    [app, clips] = await Promise.all([startTestApp(), createClipFactory()]);
    tenant = await app.createTenant("acme");
    grpcJs = createGrpcJsClient(ContentService, `127.0.0.1:${app.addresses.port}`);
  });
  afterAll(async () => {
    grpcJs?.close();
    await app?.close();
    await clips?.remove();
  });

  const metadata = (token: string) => {
    const m = new grpc.Metadata();
    m.set("authorization", `Bearer ${token}`);
    return m;
  };

  it("@grpc/grpc-js uploads and lists videos over h2c gRPC", async () => {
    const bytes = await readFile(await clips.video("interop.mp4", { seconds: 2 }));
    const half = Math.floor(bytes.length / 2);
    const uploaded = await grpcJs.call.uploadVideo(
      [
        { part: { case: "metadata", value: { fileName: "interop.mp4", sizeBytes: BigInt(bytes.length) } } },
        { part: { case: "chunk", value: bytes.subarray(0, half) } },
        { part: { case: "chunk", value: bytes.subarray(half) } },
      ],
      { metadata: metadata(tenant.tokens.editor) },
    );
    expect(uploaded.video).toMatchObject({ name: "interop", codec: "h264", sizeBytes: BigInt(bytes.length) });
    const listed = await grpcJs.call.listVideos({}, { metadata: metadata(tenant.tokens.viewer) });
    expect(listed.videos.map((v) => v.id)).toEqual([uploaded.video?.id]);
  });

  it("@grpc/grpc-js sees gRPC status codes", async () => {
    await expect(grpcJs.call.listVideos({})).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it("a gRPC-Web client (connect-web, fetch) calls over HTTP/1.1", async () => {
    const transport = createGrpcWebTransport({
      baseUrl: app.addresses.http1Url,
      interceptors: [bearerToken(tenant.tokens.viewer)],
    });
    const usage = await createClient(ContentService, transport).getStorageUsage({});
    expect(usage.videoCount).toBe(1);
    expect(usage.maxUploadBytes).toBe(100n * 1024n * 1024n);
  });
});
