import {
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "@avtech/proto/gen/grpc/reflection/v1/reflection_pb.js";
import {
  create,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";

/** One reflection answer, before the request is echoed into it. */
type Answer = MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"];

/** Answers grpc.reflection.v1 questions from a fixed set of generated descriptors. */
export interface ReflectionIndex {
  /** Answers one request; failures are `error_response` answers, never exceptions (the stream goes on). */
  answer(request: ServerReflectionRequest): ServerReflectionResponse;
}

/**
 * Indexes `files` (and everything they import) for server reflection. `services` are the fully
 * qualified names `list_services` reports: only what the server really routes, because an
 * imported file may declare services this server does not offer.
 */
export function createReflectionIndex(files: readonly DescFile[], services: readonly string[]): ReflectionIndex {
  const byName = new Map<string, DescFile>();
  const visit = (file: DescFile): void => {
    if (byName.has(file.proto.name)) return;
    byName.set(file.proto.name, file);
    for (const dependency of file.dependencies) visit(dependency);
  };
  for (const file of files) visit(file);

  const bySymbol = new Map<string, DescFile>();
  const extensionFile = new Map<string, DescFile>();
  const extensionNumbers = new Map<string, number[]>();
  const messageTypes = new Set<string>();
  for (const file of byName.values()) {
    for (const service of file.services) {
      bySymbol.set(service.typeName, file);
      for (const method of service.methods) bySymbol.set(`${service.typeName}.${method.name}`, file);
    }
    for (const desc of file.enums) bySymbol.set(desc.typeName, file);
    for (const extension of file.extensions) indexExtension(extension, file);
    for (const message of file.messages) indexMessage(message, file);
  }
  function indexMessage(message: DescMessage, file: DescFile): void {
    messageTypes.add(message.typeName);
    bySymbol.set(message.typeName, file);
    for (const field of message.fields) bySymbol.set(`${message.typeName}.${field.name}`, file);
    for (const desc of message.nestedEnums) bySymbol.set(desc.typeName, file);
    for (const extension of message.nestedExtensions) indexExtension(extension, file);
    for (const nested of message.nestedMessages) indexMessage(nested, file);
  }
  function indexExtension(extension: DescExtension, file: DescFile): void {
    bySymbol.set(extension.typeName, file);
    extensionFile.set(`${extension.extendee.typeName}:${extension.number}`, file);
    const numbers = extensionNumbers.get(extension.extendee.typeName) ?? [];
    numbers.push(extension.number);
    extensionNumbers.set(extension.extendee.typeName, numbers);
  }

  /**
   * The requested file first, then every transitive import, so a client can build the whole
   * descriptor pool from one answer (grpcurl and buf curl both need the imports).
   */
  const fileAnswer = (file: DescFile): Answer => {
    const withImports = new Set([file]);
    const walk = (current: DescFile): void => {
      for (const dependency of current.dependencies) {
        if (withImports.has(dependency)) continue;
        withImports.add(dependency);
        walk(dependency);
      }
    };
    walk(file);
    return {
      case: "fileDescriptorResponse",
      value: { fileDescriptorProto: [...withImports].map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
    };
  };
  const notFound = (message: string): Answer => ({
    case: "errorResponse",
    value: { errorCode: Code.NotFound, errorMessage: message },
  });

  function answerOf(question: ServerReflectionRequest["messageRequest"]): Answer {
    switch (question.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: services.map((name) => ({ name })) } };
      case "fileByFilename": {
        const file = byName.get(question.value);
        return file ? fileAnswer(file) : notFound(`no file named "${question.value}" on this server`);
      }
      case "fileContainingSymbol": {
        // Some clients send names with protobuf's leading-dot form (".pkg.Type").
        const symbol = question.value.replace(/^\./, "");
        const file = bySymbol.get(symbol);
        return file ? fileAnswer(file) : notFound(`no symbol "${symbol}" on this server`);
      }
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = question.value;
        const file = extensionFile.get(`${containingType}:${extensionNumber}`);
        return file ? fileAnswer(file) : notFound(`no extension ${extensionNumber} of "${containingType}"`);
      }
      case "allExtensionNumbersOfType": {
        if (!messageTypes.has(question.value)) return notFound(`no message type "${question.value}" on this server`);
        const extensionNumber = extensionNumbers.get(question.value) ?? [];
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: question.value, extensionNumber } };
      }
      case undefined:
        return {
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "the request asks nothing: set one message_request" },
        };
    }
  }

  return {
    answer: (request) =>
      create(ServerReflectionResponseSchema, {
        validHost: request.host,
        originalRequest: request,
        messageResponse: answerOf(request.messageRequest),
      }),
  };
}
