import {
  create,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescMethodClientStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";

/** Per-call options: request metadata and a deadline, as grpc-js takes them. */
export interface GrpcJsCallOptions {
  metadata?: grpc.Metadata;
  deadline?: grpc.Deadline;
}

/** The promise/stream-shaped call for one method kind. */
export type GrpcJsMethod<M> =
  M extends DescMethodUnary<infer I, infer O>
    ? (request: MessageInitShape<I>, options?: GrpcJsCallOptions) => Promise<MessageShape<O>>
    : M extends DescMethodServerStreaming<infer I, infer O>
      ? (request: MessageInitShape<I>, options?: GrpcJsCallOptions) => grpc.ClientReadableStream<MessageShape<O>>
      : M extends DescMethodClientStreaming<infer I, infer O>
        ? (
            requests: Iterable<MessageInitShape<I>> | AsyncIterable<MessageInitShape<I>>,
            options?: GrpcJsCallOptions,
          ) => Promise<MessageShape<O>>
        : M extends DescMethodBiDiStreaming<infer I, infer O>
          ? (options?: GrpcJsCallOptions) => grpc.ClientDuplexStream<MessageInitShape<I>, MessageShape<O>>
          : never;

/** One call per RPC of `S`, keyed like connect's clients (`localName`). */
export type GrpcJsMethods<S extends DescService> = { [K in keyof S["method"]]: GrpcJsMethod<S["method"][K]> };

/** A @grpc/grpc-js client for a generated service: an independent gRPC implementation to test our server with. */
export interface GrpcJsClient<S extends DescService> {
  /** The RPCs. Server-streaming and bidi calls return grpc-js streams (async-iterable, `cancel()`). */
  readonly call: GrpcJsMethods<S>;
  /** The underlying grpc-js client, e.g. for `waitForReady`. */
  readonly raw: grpc.Client;
  /** Closes the channel. */
  close(): void;
}

/**
 * Makes a grpc-js client for `service` at `address` ("host:port"), plaintext HTTP/2 unless
 * `credentials` say otherwise. Messages go through protobuf-es toBinary/fromBinary, so the test
 * exercises grpc-js framing and status handling against our server, not a second codec.
 */
export function createGrpcJsClient<S extends DescService>(
  service: S,
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): GrpcJsClient<S> {
  const raw = new grpc.Client(address, credentials);
  const call: Record<string, unknown> = {};
  for (const method of service.methods) {
    const path = `/${service.typeName}/${method.name}`;
    const serialize = serializer(method.input);
    const deserialize = (bytes: Buffer): MessageShape<DescMessage> => fromBinary(method.output, bytes);
    const settle =
      (resolve: (value: MessageShape<DescMessage>) => void, reject: (reason: unknown) => void) =>
      (error: grpc.ServiceError | null, value?: MessageShape<DescMessage>): void => {
        if (error || value === undefined) reject(error ?? new Error(`${path} returned no message`));
        else resolve(value);
      };
    const optionsOf = (options: GrpcJsCallOptions | undefined): grpc.CallOptions =>
      options?.deadline === undefined ? {} : { deadline: options.deadline };
    const metadataOf = (options: GrpcJsCallOptions | undefined): grpc.Metadata =>
      options?.metadata ?? new grpc.Metadata();
    switch (method.methodKind) {
      case "unary":
        call[method.localName] = (request: MessageInitShape<DescMessage>, options?: GrpcJsCallOptions) =>
          new Promise((resolve, reject) => {
            raw.makeUnaryRequest(
              path,
              serialize,
              deserialize,
              request,
              metadataOf(options),
              optionsOf(options),
              settle(resolve, reject),
            );
          });
        break;
      case "server_streaming":
        call[method.localName] = (request: MessageInitShape<DescMessage>, options?: GrpcJsCallOptions) =>
          raw.makeServerStreamRequest(path, serialize, deserialize, request, metadataOf(options), optionsOf(options));
        break;
      case "client_streaming":
        call[method.localName] = (
          requests: Iterable<MessageInitShape<DescMessage>> | AsyncIterable<MessageInitShape<DescMessage>>,
          options?: GrpcJsCallOptions,
        ) =>
          new Promise((resolve, reject) => {
            const stream = raw.makeClientStreamRequest(
              path,
              serialize,
              deserialize,
              metadataOf(options),
              optionsOf(options),
              settle(resolve, reject),
            );
            void writeAll(stream, requests).catch((error: unknown) => {
              stream.cancel();
              reject(error);
            });
          });
        break;
      case "bidi_streaming":
        call[method.localName] = (options?: GrpcJsCallOptions) =>
          raw.makeBidiStreamRequest(path, serialize, deserialize, metadataOf(options), optionsOf(options));
        break;
    }
  }
  return { call: call as GrpcJsMethods<S>, raw, close: () => raw.close() };
}

function serializer(schema: DescMessage): (init: MessageInitShape<DescMessage>) => Buffer {
  return (init) => Buffer.from(toBinary(schema, create(schema, init)));
}

/** Writes every request, honouring back-pressure, then half-closes. */
async function writeAll<T>(
  stream: grpc.ClientWritableStream<T>,
  requests: Iterable<T> | AsyncIterable<T>,
): Promise<void> {
  for await (const request of requests) {
    if (!stream.write(request)) await new Promise((resolve) => stream.once("drain", resolve));
  }
  stream.end();
}
