import { Health, HealthCheckResponse_ServingStatus } from "@avtech/proto/gen/grpc/health/v1/health_pb.js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcJsClient, type GrpcJsClient } from "../lib/grpc-js-client.ts";
import { type StandardServicesServer, startStandardServicesServer } from "./test-server.ts";

describe("grpc.health.v1 with @grpc/grpc-js as the client", () => {
  let server: StandardServicesServer;
  let client: GrpcJsClient<typeof Health>;

  beforeAll(async () => {
    server = await startStandardServicesServer();
    client = createGrpcJsClient(Health, server.address);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  it("reports the whole server and a named service as SERVING", async () => {
    expect((await client.call.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const named = await client.call.check({ service: "avtech.content.v1.ContentService" });
    expect(named.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("answers NOT_FOUND for a service it does not know", async () => {
    await expect(client.call.check({ service: "no.such.Service" })).rejects.toMatchObject({
      code: GrpcStatus.NOT_FOUND,
    });
  });

  it("streams the current status at once, then every change, until the client cancels", async () => {
    const stream = client.call.watch({ service: "" });
    const messages = stream[Symbol.asyncIterator]();
    expect((await messages.next()).value.status).toBe(HealthCheckResponse_ServingStatus.SERVING);

    server.health.set("", "NOT_SERVING");
    expect((await messages.next()).value.status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    server.health.set("", "SERVING");
    expect((await messages.next()).value.status).toBe(HealthCheckResponse_ServingStatus.SERVING);

    expect(server.subscriptions()).toBe(1);
    stream.cancel();
    await expect(messages.next()).rejects.toMatchObject({ code: GrpcStatus.CANCELLED });
    await expect.poll(() => server.subscriptions()).toBe(0);
  });

  it("watches a service that is not known yet instead of failing", async () => {
    const stream = client.call.watch({ service: "avtech.fleet.v1.FleetService" });
    const messages = stream[Symbol.asyncIterator]();
    expect((await messages.next()).value.status).toBe(HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN);
    server.health.set("avtech.fleet.v1.FleetService", "SERVING");
    expect((await messages.next()).value.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    stream.cancel();
  });

  it("ends open watches on shutdown, after they saw NOT_SERVING, so the server can close", async () => {
    const draining = await startStandardServicesServer();
    const watcher = createGrpcJsClient(Health, draining.address);
    try {
      const messages = watcher.call.watch({ service: "" })[Symbol.asyncIterator]();
      expect((await messages.next()).value.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      draining.health.setAll("NOT_SERVING");
      expect((await messages.next()).value.status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
      draining.shutdown();
      await expect(messages.next()).rejects.toMatchObject({ code: GrpcStatus.UNAVAILABLE });
      await expect.poll(() => draining.subscriptions()).toBe(0);
    } finally {
      watcher.close();
      await draining.close();
    }
  });
});
