import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "@avtech/proto/gen/grpc/health/v1/health_pb.js";
import {
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
} from "@avtech/proto/gen/grpc/reflection/v1/reflection_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StandardServicesServer, startStandardServicesServer } from "./test-server.ts";

const run = promisify(execFile);
// Debian's interpreter, where the python3-grpcio package installs; a python3 earlier on PATH
// (pyenv, a virtualenv) would not see it.
const python = "/usr/bin/python3";

/**
 * A client written against grpcio's generic API with bytes in and out: the messages are encoded and
 * decoded on the Node side, so the script needs no generated Python code, only gRPC itself.
 */
const client = `
import json, sys, grpc
address, check_ok, check_unknown, watch, reflect = sys.argv[1:6]
out = {}
with grpc.insecure_channel(address) as channel:
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    out["check"] = check(bytes.fromhex(check_ok), timeout=10).hex()
    try:
        check(bytes.fromhex(check_unknown), timeout=10)
        out["unknown"] = "OK"
    except grpc.RpcError as error:
        out["unknown"] = error.code().name
    stream = channel.unary_stream("/grpc.health.v1.Health/Watch")(bytes.fromhex(watch), timeout=10)
    out["watch"] = next(stream).hex()
    stream.cancel()
    info = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
    out["reflect"] = [answer.hex() for answer in info(iter([bytes.fromhex(reflect)]), timeout=10)]
print(json.dumps(out))
`;

describe("Python grpcio (the C-core gRPC stack) against our server", () => {
  let server: StandardServicesServer;

  beforeAll(async () => {
    await run(python, ["-c", "import grpc"]).catch((error: unknown) => {
      throw new Error(
        `${python} cannot import grpc: install the Debian package python3-grpcio (apt-get install python3-grpcio; scripts/setup.sh does)`,
        { cause: error },
      );
    });
    server = await startStandardServicesServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("checks and watches health, and lists services through reflection", async () => {
    const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
    const healthRequest = (service: string): string =>
      hex(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })));
    const listServices = create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
    const { stdout } = await run(
      python,
      [
        "-c",
        client,
        server.address,
        healthRequest(""),
        healthRequest("no.such.Service"),
        healthRequest(""),
        hex(toBinary(ServerReflectionRequestSchema, listServices)),
      ],
      { timeout: 30_000 },
    );
    const out = JSON.parse(stdout) as { check: string; unknown: string; watch: string; reflect: string[] };
    const health = (h: string) => fromBinary(HealthCheckResponseSchema, Buffer.from(h, "hex")).status;

    expect(health(out.check)).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(out.unknown).toBe("NOT_FOUND");
    expect(health(out.watch)).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(out.reflect).toHaveLength(1);
    const answer = fromBinary(ServerReflectionResponseSchema, Buffer.from(out.reflect[0] ?? "", "hex"));
    expect(answer.messageResponse.case).toBe("listServicesResponse");
    if (answer.messageResponse.case === "listServicesResponse") {
      expect(answer.messageResponse.value.service.map((s) => s.name)).toContain("avtech.content.v1.ContentService");
    }
  });
});
