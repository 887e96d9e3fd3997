import {
  type ServerReflectionResponse,
  ServerReflection as V1,
} from "@avtech/proto/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as V1alpha } from "@avtech/proto/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcJsClient, type GrpcJsClient } from "../lib/grpc-js-client.ts";
import { type StandardServicesServer, startStandardServicesServer } from "./test-server.ts";

type Question = MessageInitShape<typeof V1.method.serverReflectionInfo.input>;

describe("server reflection with @grpc/grpc-js as the client", () => {
  let server: StandardServicesServer;
  let client: GrpcJsClient<typeof V1>;

  beforeAll(async () => {
    server = await startStandardServicesServer();
    client = createGrpcJsClient(V1, server.address);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  /** Asks all `questions` on one stream, as real clients do, and collects the answers in order. */
  async function ask(...questions: Question[]): Promise<ServerReflectionResponse[]> {
    const stream = client.call.serverReflectionInfo();
    for (const question of questions) stream.write(question);
    stream.end();
    return collect(stream);
  }

  function filesOf(answer: ServerReflectionResponse | undefined): FileDescriptorProto[] {
    if (answer?.messageResponse.case !== "fileDescriptorResponse") {
      throw new Error(`expected files, got ${answer?.messageResponse.case}`);
    }
    return answer.messageResponse.value.fileDescriptorProto.map((bytes) =>
      fromBinary(FileDescriptorProtoSchema, bytes),
    );
  }

  it("lists services and answers every question on one stream in order", async () => {
    const [list, health] = await ask(
      { messageRequest: { case: "listServices", value: "*" } },
      { host: "h", messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health" } },
    );
    expect(list?.messageResponse.case).toBe("listServicesResponse");
    if (list?.messageResponse.case === "listServicesResponse") {
      const names = list.messageResponse.value.service.map((s) => s.name);
      expect(names).toEqual(expect.arrayContaining(["avtech.content.v1.ContentService", "grpc.health.v1.Health"]));
    }
    expect(health?.validHost).toBe("h");
    expect(health?.originalRequest?.messageRequest).toEqual({
      case: "fileContainingSymbol",
      value: "grpc.health.v1.Health",
    });
    expect(filesOf(health).map((f) => f.name)).toEqual(["grpc/health/v1/health.proto"]);
  });

  it("sends the file of a symbol first, then all of its transitive imports", async () => {
    const [answer] = await ask({
      messageRequest: { case: "fileContainingSymbol", value: "avtech.fleet.v1.FleetService" },
    });
    const files = filesOf(answer);
    expect(files[0]?.name).toBe("avtech/fleet/v1/fleet.proto");
    expect(files[0]?.service.map((s) => s.name)).toEqual(["FleetService"]);
    const names = new Set(files.map((f) => f.name));
    // fleet.proto imports publish.proto, which imports schedule.proto: the walk is transitive.
    for (const name of [
      "avtech/device/v1/state.proto",
      "avtech/publish/v1/publish.proto",
      "avtech/schedule/v1/schedule.proto",
      "google/protobuf/timestamp.proto",
    ]) {
      expect(names).toContain(name);
    }
    for (const file of files) {
      for (const dependency of file.dependency) expect(names).toContain(dependency);
    }
  });

  it("finds methods, nested types and files by name, and says NOT_FOUND for unknown ones", async () => {
    const questions: Question[] = [
      { messageRequest: { case: "fileContainingSymbol", value: "avtech.content.v1.ContentService.GetStorageUsage" } },
      { messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" } },
      { messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } },
      { messageRequest: { case: "fileContainingSymbol", value: "avtech.nope.v1.Nothing" } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "avtech.content.v1.GetStorageUsageRequest" } },
    ];
    const [method, nestedEnum, byName, unknown, extensions] = await ask(...questions);
    expect(filesOf(method)[0]?.name).toBe("avtech/content/v1/content.proto");
    expect(filesOf(nestedEnum)[0]?.name).toBe("grpc/health/v1/health.proto");
    expect(filesOf(byName).map((f) => f.name)).toEqual(["google/protobuf/timestamp.proto"]);
    expect(unknown?.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });
    expect(extensions?.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "avtech.content.v1.GetStorageUsageRequest", extensionNumber: [] },
    });
  });

  it("answers the same under the older grpc.reflection.v1alpha name", async () => {
    const alpha = createGrpcJsClient(V1alpha, server.address);
    try {
      const stream = alpha.call.serverReflectionInfo();
      stream.end({ messageRequest: { case: "fileContainingSymbol", value: "avtech.content.v1.ContentService" } });
      const [answer] = await collect(stream);
      expect(answer?.$typeName).toBe("grpc.reflection.v1alpha.ServerReflectionResponse");
      expect(answer?.messageResponse.case).toBe("fileDescriptorResponse");
      if (answer?.messageResponse.case === "fileDescriptorResponse") {
        const first = answer.messageResponse.value.fileDescriptorProto[0];
        expect(first && fromBinary(FileDescriptorProtoSchema, first).name).toBe("avtech/content/v1/content.proto");
      }
    } finally {
      alpha.close();
    }
  });
});

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}
