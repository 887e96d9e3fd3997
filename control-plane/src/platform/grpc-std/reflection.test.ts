import { file_avtech_auth_v1_audit } from "@avtech/proto/gen/avtech/auth/v1/audit_pb.js";
import { file_avtech_auth_v1_auth } from "@avtech/proto/gen/avtech/auth/v1/auth_pb.js";
import { file_avtech_auth_v1_user } from "@avtech/proto/gen/avtech/auth/v1/user_pb.js";
import { file_avtech_content_v1_content } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { file_avtech_device_v1_device } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { file_avtech_fleet_v1_fleet } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { file_avtech_publish_v1_publish } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { file_avtech_schedule_v1_schedule } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import {
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "@avtech/proto/gen/grpc/reflection/v1/reflection_pb.js";
import { create, createFileRegistry, type DescFile, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_descriptor,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { createReflectionIndex } from "./reflection.ts";

/** A file that extends a message in another file, since none of our contracts declare extensions. */
function fileWithExtension(): DescFile {
  const proto = create(FileDescriptorProtoSchema, {
    name: "test/ext.proto",
    package: "test",
    syntax: "proto3",
    dependency: ["google/protobuf/descriptor.proto"],
    messageType: [
      {
        name: "Outer",
        nestedType: [
          { name: "Inner", field: [{ name: "n", number: 1, type: FieldDescriptorProto_Type.INT32, jsonName: "n" }] },
        ],
      },
    ],
    extension: [
      {
        name: "tag",
        number: 50_001,
        label: FieldDescriptorProto_Label.OPTIONAL,
        type: FieldDescriptorProto_Type.STRING,
        extendee: ".google.protobuf.FieldOptions",
        jsonName: "tag",
      },
    ],
  });
  const registry = createFileRegistry(proto, (name) =>
    name === file_google_protobuf_descriptor.proto.name ? file_google_protobuf_descriptor : undefined,
  );
  const file = registry.getFile("test/ext.proto");
  if (!file) throw new Error("test/ext.proto did not build");
  return file;
}

const index = createReflectionIndex(
  [file_avtech_content_v1_content, fileWithExtension()],
  ["avtech.content.v1.ContentService"],
);

function ask(
  messageRequest: MessageInitShape<typeof ServerReflectionRequestSchema>["messageRequest"],
): ServerReflectionResponse {
  return index.answer(create(ServerReflectionRequestSchema, { messageRequest }));
}

function fileNames(answer: ServerReflectionResponse): string[] {
  if (answer.messageResponse.case !== "fileDescriptorResponse")
    throw new Error(`expected files, got ${answer.messageResponse.case}`);
  return answer.messageResponse.value.fileDescriptorProto.map(
    (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
  );
}

/**
 * Orders files so each comes after its imports, as a FileDescriptorSet must be for
 * createFileRegistry (its resolver overload mis-orders diamond imports such as publish.proto's).
 */
function importsFirst(files: FileDescriptorProto[]): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const visit = (file: FileDescriptorProto | undefined): void => {
    if (!file || ordered.includes(file)) return;
    for (const name of file.dependency) visit(files.find((f) => f.name === name));
    ordered.push(file);
  };
  for (const file of files) visit(file);
  return ordered;
}

describe("createReflectionIndex", () => {
  it("lists exactly the services it was given", () => {
    expect(ask({ case: "listServices", value: "" }).messageResponse).toMatchObject({
      case: "listServicesResponse",
      value: { service: [{ name: "avtech.content.v1.ContentService" }] },
    });
  });

  it("finds fields, nested messages and names written with protobuf's leading dot", () => {
    expect(
      fileNames(
        ask({ case: "fileContainingSymbol", value: "avtech.content.v1.GetStorageUsageResponse.used_bytes" }),
      )[0],
    ).toBe("avtech/content/v1/content.proto");
    expect(fileNames(ask({ case: "fileContainingSymbol", value: ".test.Outer.Inner" }))[0]).toBe("test/ext.proto");
  });

  it("includes imports that were not listed, such as google/protobuf/descriptor.proto", () => {
    expect(fileNames(ask({ case: "fileByFilename", value: "test/ext.proto" }))).toEqual([
      "test/ext.proto",
      "google/protobuf/descriptor.proto",
    ]);
    expect(fileNames(ask({ case: "fileContainingSymbol", value: "google.protobuf.FieldOptions" }))[0]).toBe(
      "google/protobuf/descriptor.proto",
    );
  });

  it("answers extension questions from the extensions it knows", () => {
    expect(
      fileNames(
        ask({
          case: "fileContainingExtension",
          value: { containingType: "google.protobuf.FieldOptions", extensionNumber: 50_001 },
        }),
      )[0],
    ).toBe("test/ext.proto");
    expect(fileNames(ask({ case: "fileContainingSymbol", value: "test.tag" }))[0]).toBe("test/ext.proto");
    expect(
      ask({ case: "allExtensionNumbersOfType", value: "google.protobuf.FieldOptions" }).messageResponse,
    ).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "google.protobuf.FieldOptions", extensionNumber: [50_001] },
    });
  });

  it("says NOT_FOUND for unknown files, symbols, extensions and types, and INVALID_ARGUMENT for an empty question", () => {
    const code = (answer: ServerReflectionResponse): number | undefined =>
      answer.messageResponse.case === "errorResponse" ? answer.messageResponse.value.errorCode : undefined;
    expect(code(ask({ case: "fileByFilename", value: "nope.proto" }))).toBe(5);
    expect(code(ask({ case: "fileContainingSymbol", value: "nope.Nope" }))).toBe(5);
    expect(
      code(
        ask({
          case: "fileContainingExtension",
          value: { containingType: "google.protobuf.FieldOptions", extensionNumber: 7 },
        }),
      ),
    ).toBe(5);
    expect(code(ask({ case: "allExtensionNumbersOfType", value: "nope.Nope" }))).toBe(5);
    expect(code(ask({ case: undefined }))).toBe(3);
  });

  it("gives, for every AVTech service, files that build a complete descriptor pool on their own", () => {
    const files = [
      file_avtech_auth_v1_audit,
      file_avtech_auth_v1_auth,
      file_avtech_auth_v1_user,
      file_avtech_content_v1_content,
      file_avtech_device_v1_device,
      file_avtech_fleet_v1_fleet,
      file_avtech_publish_v1_publish,
      file_avtech_schedule_v1_schedule,
    ];
    const services = files.flatMap((file) => file.services.map((service) => service.typeName));
    const all = createReflectionIndex(files, services);
    expect(services).toHaveLength(files.length);
    for (const service of services) {
      const answer = all.answer(
        create(ServerReflectionRequestSchema, { messageRequest: { case: "fileContainingSymbol", value: service } }),
      );
      if (answer.messageResponse.case !== "fileDescriptorResponse") throw new Error(`no files for ${service}`);
      const file = answer.messageResponse.value.fileDescriptorProto.map((b) =>
        fromBinary(FileDescriptorProtoSchema, b),
      );
      // createFileRegistry throws when an import or a referenced type is missing.
      const pool = createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(file) }));
      expect(pool.getService(service)?.methods.length).toBeGreaterThan(0);
    }
  });
});
