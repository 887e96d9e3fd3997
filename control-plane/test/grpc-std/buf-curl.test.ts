import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StandardServicesServer, startStandardServicesServer, stubStorageUsage } from "./test-server.ts";

const run = promisify(execFile);
const buf = path.resolve(import.meta.dirname, "../../../node_modules/.bin/buf");

describe("buf curl against our server, using only server reflection for the schema", () => {
  let server: StandardServicesServer;

  beforeAll(async () => {
    server = await startStandardServicesServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Runs `buf curl` over plaintext HTTP/2 with the gRPC protocol, as against any gRPC server. */
  async function bufCurl(...args: string[]): Promise<string> {
    const { stdout } = await run(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], {
      timeout: 20_000,
    });
    return stdout;
  }

  it("lists every routed service, including health and both reflection versions", async () => {
    const services = (await bufCurl("--list-services", server.url)).trim().split("\n");
    expect(services.sort()).toEqual([
      "avtech.content.v1.ContentService",
      "avtech.fleet.v1.FleetService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
  });

  it("lists the methods of the services", async () => {
    const methods = (await bufCurl("--list-methods", server.url)).trim().split("\n");
    expect(methods).toContain("avtech.content.v1.ContentService/GetStorageUsage");
    expect(methods).toContain("avtech.fleet.v1.FleetService/WatchFleet");
    expect(methods).toContain("grpc.health.v1.Health/Watch");
  });

  it.each(["grpc-v1", "grpc-v1alpha"])("calls a method described only by reflection (%s)", async (protocol) => {
    const url = `${server.url}/avtech.content.v1.ContentService/GetStorageUsage`;
    const response = JSON.parse(await bufCurl("--reflect-protocol", protocol, "-d", "{}", url));
    // buf curl prints protobuf JSON: 64-bit integers as strings.
    expect(response).toEqual({
      usedBytes: String(stubStorageUsage.usedBytes),
      quotaBytes: String(stubStorageUsage.quotaBytes),
      videoCount: stubStorageUsage.videoCount,
    });
  });

  it("checks health the way a probe would", async () => {
    const url = `${server.url}/grpc.health.v1.Health/Check`;
    expect(JSON.parse(await bufCurl("-d", '{"service":""}', url))).toEqual({ status: "SERVING" });
  });
});
