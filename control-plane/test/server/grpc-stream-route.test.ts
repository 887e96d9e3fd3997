import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import {
  decodeEnvelopes,
  EnvelopeDecoder,
  encodeEnvelope,
  encodeEnvelopeHeader,
  envelopeFlagCompressed,
} from "@avtech/io/grpc-framing";
import {
  ContentService,
  UploadVideoRequestSchema,
  UploadVideoResponseSchema,
} from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  ConnectResponseSchema,
  DeviceService,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createClient,
  type HandlerContext,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  compressionGzip,
  connectNodeAdapter,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createErrorInterceptor } from "../../src/platform/server/errors.ts";
import { createGrpcStreamRoute } from "../../src/platform/server/grpc-stream-route.ts";
import { observe } from "../../src/platform/server/observe.ts";
import { peerContextValues } from "../../src/platform/server/peer.ts";
import { createGrpcJsClient, type GrpcJsClient } from "../lib/grpc-js-client.ts";

const path = "/avtech.device.v1.DeviceService/Connect";
const readMaxBytes = 64 * 1024;

/**
 * The method under test answers every hello with a welcome naming the hello's player_version and
 * the caller's `x-caller` header; player_version "refuse" fails the call, "crash" throws a plain Error.
 */
async function* echo(requests: AsyncIterable<ConnectRequest>, context: HandlerContext) {
  try {
    for await (const request of requests) {
      if (request.message.case !== "hello") continue;
      const version = request.message.value.playerVersion;
      if (version === "refuse") throw new ConnectError("refused as asked", Code.FailedPrecondition);
      if (version === "crash") throw new Error("a detail that must not reach the client");
      yield create(ConnectResponseSchema, {
        message: {
          case: "welcome",
          value: { screenName: version, deviceId: context.requestHeader.get("x-caller") ?? "" },
        },
      });
    }
    ended.push("input ended");
  } catch (error) {
    ended.push(`failed: ${Code[ConnectError.from(error).code]}`);
    throw error;
  }
}

const ended: string[] = [];
const outcomes: string[] = [];
const routed: string[] = [];

const recordOutcome: Interceptor = (next) => (req) =>
  observe(req, next, (error) => {
    outcomes.push(error === undefined ? "ok" : Code[ConnectError.from(error).code]);
  });

function hello(playerVersion: string): ConnectRequest {
  return create(ConnectRequestSchema, { message: { case: "hello", value: { playerVersion } } });
}

/** What a raw HTTP/2 call saw: response headers, the messages in its body, and its trailers. */
interface RawResult {
  headers: http2.IncomingHttpHeaders;
  messages: ConnectResponse[];
  trailers: http2.IncomingHttpHeaders | undefined;
}

describe("the lean gRPC route for a bidi method", () => {
  let server: http2.Http2Server;
  let baseUrl: string;
  let grpcJs: GrpcJsClient<typeof DeviceService>;

  beforeAll(async () => {
    const interceptors = [recordOutcome, createErrorInterceptor(pino({ level: "silent" }))];
    const route = createGrpcStreamRoute({
      method: DeviceService.method.connect,
      impl: echo,
      interceptors,
      readMaxBytes,
      contextValues: peerContextValues,
      logger: pino({ level: "silent" }),
    });
    const connect = connectNodeAdapter({
      routes: (router) => router.service(DeviceService, { connect: echo }),
      interceptors,
      readMaxBytes,
    });
    server = http2.createServer((req, res) => {
      if (route(req, res)) routed.push(String(req.headers["content-type"]));
      else connect(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    baseUrl = `http://127.0.0.1:${port}`;
    grpcJs = createGrpcJsClient(DeviceService, `127.0.0.1:${port}`);
  });
  afterAll(async () => {
    grpcJs?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** One call over a fresh HTTP/2 connection, writing `chunks` as they are and then ending. */
  async function rawCall(chunks: Buffer[], headers: http2.OutgoingHttpHeaders = {}): Promise<RawResult> {
    const session = http2.connect(baseUrl);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...headers,
      });
      const result: RawResult = { headers: {}, messages: [], trailers: undefined };
      const body: Buffer[] = [];
      stream.on("response", (h) => {
        result.headers = h;
      });
      stream.on("trailers", (t) => {
        result.trailers = t;
      });
      stream.on("data", (chunk: Buffer) => body.push(chunk));
      for (const chunk of chunks) stream.write(chunk);
      stream.end();
      await new Promise<void>((resolve, reject) => {
        stream.on("close", resolve);
        stream.on("error", reject);
      });
      for (const { data } of decodeEnvelopes(Buffer.concat(body))) {
        result.messages.push(fromBinary(ConnectResponseSchema, data));
      }
      return result;
    } finally {
      session.close();
    }
  }

  const status = (result: RawResult) => {
    const where = result.trailers ?? result.headers;
    return { code: Number(where["grpc-status"]), message: decodeURIComponent(String(where["grpc-message"] ?? "")) };
  };

  it("serves @grpc/grpc-js (an independent gRPC implementation) both ways with metadata and an OK status", async () => {
    const before = routed.length;
    const metadata = new grpc.Metadata();
    metadata.set("x-caller", "grpc-js");
    const call = grpcJs.call.connect({ metadata });
    const received: ConnectResponse[] = [];
    const finished = new Promise<grpc.StatusObject>((resolve) => call.on("status", resolve));
    call.on("data", (message: ConnectResponse) => received.push(message));
    for (const version of ["1.0.0", "1.0.1", "1.0.2"]) call.write(hello(version));
    call.end();
    const final = await finished;
    expect(final.code).toBe(grpc.status.OK);
    expect(received.map((m) => m.message.case === "welcome" && m.message.value.screenName)).toEqual([
      "1.0.0",
      "1.0.1",
      "1.0.2",
    ]);
    expect(received[0]?.message.value).toMatchObject({ deviceId: "grpc-js" });
    expect(routed.slice(before)).toEqual(["application/grpc"]);
  });

  it("serves connect-node's gRPC client (application/grpc+proto), the player's transport", async () => {
    const before = routed.length;
    const client = createClient(DeviceService, createGrpcTransport({ baseUrl }));
    const names: string[] = [];
    for await (const response of client.connect(
      (async function* () {
        yield hello("2.0.0");
        yield hello("2.0.1");
      })(),
    )) {
      if (response.message.case === "welcome") names.push(response.message.value.screenName);
    }
    expect(names).toEqual(["2.0.0", "2.0.1"]);
    expect(routed.slice(before)).toEqual(["application/grpc+proto"]);
  });

  it("parses many messages in one chunk and a message split across chunks, in order", async () => {
    const frames = Buffer.concat(
      Array.from({ length: 100 }, (_, i) => encodeEnvelope(toBinary(ConnectRequestSchema, hello(`v${i}`)))),
    );
    const cut = 7 + Math.floor(frames.length / 2);
    const result = await rawCall([frames.subarray(0, cut), frames.subarray(cut)]);
    expect(status(result)).toEqual({ code: 0, message: "" });
    expect(result.messages.map((m) => (m.message.case === "welcome" ? m.message.value.screenName : ""))).toEqual(
      Array.from({ length: 100 }, (_, i) => `v${i}`),
    );
  });

  it("accepts an empty message (every field at its default) and one split byte by byte", async () => {
    const frame = encodeEnvelope(toBinary(ConnectRequestSchema, hello("bytewise")));
    const bytes = [...frame].map((b) => Buffer.from([b]));
    const result = await rawCall([encodeEnvelope(new Uint8Array(0)), ...bytes]);
    expect(status(result)).toEqual({ code: 0, message: "" });
    expect(result.messages.map((m) => m.message.case === "welcome" && m.message.value.screenName)).toEqual([
      "bytewise",
    ]);
  });

  it("answers an error before any message with a trailers-only response carrying code and message", async () => {
    const result = await rawCall([encodeEnvelope(toBinary(ConnectRequestSchema, hello("refuse")))]);
    expect(result.trailers).toBeUndefined();
    expect(result.headers[":status"]).toBe(200);
    expect(status(result)).toEqual({ code: Code.FailedPrecondition, message: "refused as asked" });
    expect(outcomes.at(-1)).toBe("FailedPrecondition");
  });

  it("puts an error after messages in the trailers", async () => {
    const call = grpcJs.call.connect();
    const received: ConnectResponse[] = [];
    call.on("data", (message: ConnectResponse) => received.push(message));
    const failed = new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
    call.write(hello("3.0.0"));
    call.write(hello("refuse"));
    const error = await failed;
    expect(received).toHaveLength(1);
    expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error.details).toBe("refused as asked");
  });

  it("turns an unexpected error into INTERNAL without its details, through the same interceptors", async () => {
    const result = await rawCall([encodeEnvelope(toBinary(ConnectRequestSchema, hello("crash")))]);
    expect(status(result)).toEqual({ code: Code.Internal, message: "internal error; the server logged the details" });
    expect(outcomes.at(-1)).toBe("Internal");
  });

  it("refuses a message larger than readMaxBytes with RESOURCE_EXHAUSTED before reading it", async () => {
    const result = await rawCall([encodeEnvelopeHeader(0, readMaxBytes + 1)]);
    expect(status(result).code).toBe(Code.ResourceExhausted as number);
    expect(status(result).message).toContain(`larger than the configured readMaxBytes ${readMaxBytes}`);
  });

  it("refuses bytes that are not a ConnectRequest with INVALID_ARGUMENT", async () => {
    const result = await rawCall([encodeEnvelope(Buffer.from([0xff, 0xff, 0xff, 0xff]))]);
    expect(status(result).code).toBe(Code.InvalidArgument as number);
    expect(status(result).message).toContain("cannot parse the request message");
  });

  it("refuses a request that ends inside a message with INVALID_ARGUMENT", async () => {
    const whole = encodeEnvelope(toBinary(ConnectRequestSchema, hello("cut")));
    const result = await rawCall([whole.subarray(0, whole.length - 2)]);
    expect(status(result)).toEqual({ code: Code.InvalidArgument, message: "the request ended inside a message" });
  });

  it("refuses a compressed message when no grpc-encoding was negotiated with INTERNAL", async () => {
    const result = await rawCall([encodeEnvelope(toBinary(ConnectRequestSchema, hello("x")), envelopeFlagCompressed)]);
    expect(status(result)).toEqual({ code: Code.Internal, message: "compressed message without grpc-encoding" });
  });

  it("ends the call with DEADLINE_EXCEEDED when the client's grpc-timeout passes", async () => {
    const session = http2.connect(baseUrl);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": "200m",
    });
    stream.write(encodeEnvelope(toBinary(ConnectRequestSchema, hello("waits"))));
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on("trailers", resolve));
    stream.resume();
    expect(Number((await trailers)["grpc-status"])).toBe(Code.DeadlineExceeded);
    stream.close();
    session.close();
    await expect.poll(() => ended.at(-1)).toBe("failed: DeadlineExceeded");
  });

  it("refuses a malformed grpc-timeout", async () => {
    const result = await rawCall([], { "grpc-timeout": "soon" });
    expect(status(result).code).toBe(Code.InvalidArgument as number);
  });

  it("ends the implementation's input when the client cancels", async () => {
    const call = grpcJs.call.connect();
    const first = new Promise((resolve) => call.once("data", resolve));
    call.on("error", () => {});
    call.write(hello("4.0.0"));
    await first;
    call.cancel();
    await expect.poll(() => ended.at(-1)).toBe("failed: Canceled");
    await expect.poll(() => outcomes.at(-1)).toBe("Canceled");
  });

  it.each<[string, () => Transport]>([
    ["gRPC-Web", () => createGrpcWebTransport({ baseUrl, httpVersion: "2" })],
    ["the Connect protocol", () => createConnectTransport({ baseUrl, httpVersion: "2" })],
    ["gzip-compressed gRPC", () => createGrpcTransport({ baseUrl, sendCompression: compressionGzip })],
  ])("leaves %s to the Connect adapter, which serves the same implementation", async (_, transport) => {
    const before = routed.length;
    const client = createClient(DeviceService, transport());
    const names: string[] = [];
    for await (const response of client.connect(
      (async function* () {
        yield hello("5.0.0");
      })(),
    )) {
      if (response.message.case === "welcome") names.push(response.message.value.screenName);
    }
    expect(names).toEqual(["5.0.0"]);
    expect(routed.length).toBe(before);
  });
});

describe("the lean gRPC route for a client-streaming method", () => {
  it("stops reading while the implementation does not take messages, then delivers them all", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let taken = 0;
    const route = createGrpcStreamRoute({
      method: ContentService.method.uploadVideo,
      impl: async (requests) => {
        for await (const request of requests) {
          if (request.part.case === "chunk") taken++;
          if (taken === 1) await gate;
        }
        return create(UploadVideoResponseSchema, { video: { name: `${taken} chunks` } });
      },
      interceptors: [],
      readMaxBytes: 2 * 1024 * 1024,
      contextValues: peerContextValues,
      logger: pino({ level: "silent" }),
    });
    let socket: { bytesRead: number } | undefined;
    let stoppedReading: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      stoppedReading = resolve;
    });
    // Only this route answers here; a 404 means the test sent the wrong path.
    const server = http2.createServer((req, res) => {
      socket = req.socket;
      // The route stops reading by pausing the request.
      req.once("pause", stoppedReading);
      if (!route(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/avtech.content.v1.ContentService/UploadVideo",
        "content-type": "application/grpc",
        te: "trailers",
      });
      const chunk = toBinary(
        UploadVideoRequestSchema,
        create(UploadVideoRequestSchema, { part: { case: "chunk", value: new Uint8Array(1024 * 1024) } }),
      );
      const count = 24;
      for (let i = 0; i < count; i++) stream.write(encodeEnvelope(chunk));
      stream.end();
      const body: Buffer[] = [];
      stream.on("data", (data: Buffer) => body.push(data));
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on("trailers", resolve));
      // Waits for the route to stop reading, then for a PING round trip, so the server has read what
      // the client sent before the PING (HTTP/2 flow control bounds what may still come).
      await paused;
      await new Promise<void>((resolve, reject) => session.ping((error) => (error ? reject(error) : resolve())));
      // What the server read from the connection: about 4 MiB of parsed messages, the one arriving and the
      // HTTP/2 windows (5.1 MiB measured, the same before and after the PING), not all 24 MiB, nor the 17 MiB
      // a bound on the message count alone let in.
      expect(taken).toBe(1);
      expect(socket?.bytesRead).toBeLessThan(10 * 1024 * 1024);
      release();
      expect(Number((await trailers)["grpc-status"])).toBe(0);
      const bytes = Buffer.concat(body);
      const [answer] = decodeEnvelopes(bytes);
      const response = fromBinary(UploadVideoResponseSchema, answer?.data ?? new Uint8Array(0));
      expect(response.video?.name).toBe(`${count} chunks`);
    } finally {
      session.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** Values as they arrive, and a promise of the next one for a test that waits for it. */
class Inbox<T> {
  readonly #queue: T[] = [];
  readonly #takers: ((value: T) => void)[] = [];
  push(value: T): void {
    const taker = this.#takers.shift();
    if (taker) taker(value);
    else this.#queue.push(value);
  }
  next(): Promise<T> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift() as T);
    return new Promise((resolve) => this.#takers.push(resolve));
  }
}

/** How a raw HTTP/2 call ended: the stream's RST_STREAM code and the call's gRPC status. */
interface Ended {
  rstCode: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
}

/** A raw HTTP/2 call of DeviceService.Connect on `session`, kept open: send hellos, take welcomes. */
function openCall(session: http2.ClientHttp2Session) {
  const stream = session.request({
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
  });
  const decoder = new EnvelopeDecoder({ readMaxBytes: 1024 * 1024, compression: false });
  const welcomes = new Inbox<string>();
  let headers: http2.IncomingHttpHeaders = {};
  let trailers: http2.IncomingHttpHeaders | undefined;
  stream.on("response", (h) => {
    headers = h;
  });
  stream.on("trailers", (t) => {
    trailers = t;
  });
  stream.on("data", (chunk: Buffer) => {
    decoder.push(chunk);
    for (let read = decoder.next(); read.type === "envelope"; read = decoder.next()) {
      const response = fromBinary(ConnectResponseSchema, read.envelope.data);
      welcomes.push(response.message.case === "welcome" ? response.message.value.screenName : "");
    }
  });
  // As a gRPC client does: once the server has ended the call, end the request too (Node closes a
  // stream only when both sides have ended).
  stream.on("end", () => {
    if (!stream.destroyed) stream.end();
  });
  // A reset also surfaces as an 'error'; `ended` reports it as the stream's rstCode.
  stream.on("error", () => {});
  const ended = new Promise<Ended>((resolve) =>
    stream.on("close", () => resolve({ rstCode: stream.rstCode, headers, trailers })),
  );
  const send = (playerVersion: string) =>
    stream.write(encodeEnvelope(toBinary(ConnectRequestSchema, hello(playerVersion))));
  return {
    send,
    /** Sends a hello and resolves with the screen name of the welcome that answers it. */
    ask: (playerVersion: string) => {
      send(playerVersion);
      return welcomes.next();
    },
    end: () => stream.end(),
    ended,
  };
}

const grpcStatus = (ended: Ended) => {
  const where = ended.trailers ?? ended.headers;
  return { code: Number(where["grpc-status"]), message: decodeURIComponent(String(where["grpc-message"] ?? "")) };
};

describe("the lean gRPC route when ending a call fails", () => {
  /**
   * Welcomes every hello like `echo`, and fails as asked with an error the route cannot turn into
   * the status it sends: "bad-detail" carries an error detail that cannot be encoded (a Duration
   * whose nanos overflow int32), so building grpc-status-details-bin throws;
   * "connection-metadata" carries a connection-specific field as metadata, which Node would
   * refuse while it sends the trailers.
   */
  async function* unsendableErrors(requests: AsyncIterable<ConnectRequest>) {
    for await (const request of requests) {
      if (request.message.case !== "hello") continue;
      const version = request.message.value.playerVersion;
      if (version === "bad-detail") {
        throw new ConnectError("refused with a detail", Code.FailedPrecondition, undefined, [
          { desc: DurationSchema, value: { seconds: 1n, nanos: 2 ** 40 } },
        ]);
      }
      if (version === "connection-metadata") {
        throw new ConnectError("refused with a connection field", Code.FailedPrecondition, { connection: "close" });
      }
      yield create(ConnectResponseSchema, { message: { case: "welcome", value: { screenName: version } } });
    }
  }

  let server: http2.Http2Server;
  let session: http2.ClientHttp2Session;
  const logs = new Inbox<Record<string, unknown>>();
  // Either would end a real server's process: Node 24 exits on an unhandled rejection.
  const unhandledRejections: unknown[] = [];
  const uncaughtExceptions: unknown[] = [];
  const onUnhandledRejection = (reason: unknown) => unhandledRejections.push(reason);
  const onUncaughtException = (error: unknown) => uncaughtExceptions.push(error);

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandledRejection);
    process.on("uncaughtExceptionMonitor", onUncaughtException);
    const logger = pino({ level: "error" }, { write: (line: string) => logs.push(JSON.parse(line)) });
    const route = createGrpcStreamRoute({
      method: DeviceService.method.connect,
      impl: unsendableErrors,
      // The shipped error interceptor passes a ConnectError on with its metadata.
      interceptors: [createErrorInterceptor(pino({ level: "silent" }))],
      readMaxBytes,
      contextValues: peerContextValues,
      logger,
    });
    server = http2.createServer((req, res) => {
      if (!route(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    // Every call of a test shares one connection, as a server's screens share its process.
    session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    process.off("unhandledRejection", onUnhandledRejection);
    process.off("uncaughtExceptionMonitor", onUncaughtException);
    session?.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** Node reports an unhandled rejection once the microtasks of the turn that made it have run. */
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  /**
   * Runs `failure` while another call on the same connection is open, then checks that the process saw no
   * unhandled error and that the other call still answers and ends OK.
   */
  async function besideAHealthyCall(failure: () => Promise<void>): Promise<void> {
    const other = openCall(session);
    expect(await other.ask("before")).toBe("before");
    await failure();
    await nextTurn();
    expect(unhandledRejections).toEqual([]);
    expect(uncaughtExceptions).toEqual([]);
    expect(await other.ask("after")).toBe("after");
    other.end();
    expect(grpcStatus(await other.ended)).toEqual({ code: 0, message: "" });
  }

  it("answers INTERNAL when the status cannot be sent before any message, and other calls go on", async () => {
    await besideAHealthyCall(async () => {
      const failing = openCall(session);
      failing.send("bad-detail");
      const ended = await failing.ended;
      expect(ended.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect(ended.trailers).toBeUndefined();
      expect(grpcStatus(ended)).toEqual({
        code: Code.Internal,
        message: "internal error; the server logged the details",
      });
      expect(await logs.next()).toMatchObject({
        level: 50,
        procedure: "avtech.device.v1.DeviceService/Connect",
        closedWith: "grpc-status INTERNAL",
        err: { message: expect.stringContaining("cannot encode field google.protobuf.Duration.nanos") },
      });
    });
  });

  it("resets the stream with INTERNAL_ERROR when the trailers cannot be sent, and other calls go on", async () => {
    await besideAHealthyCall(async () => {
      const failing = openCall(session);
      expect(await failing.ask("first")).toBe("first");
      failing.send("bad-detail");
      const ended = await failing.ended;
      expect(ended.rstCode).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR);
      expect(ended.trailers).toBeUndefined();
      expect(await logs.next()).toMatchObject({
        level: 50,
        procedure: "avtech.device.v1.DeviceService/Connect",
        closedWith: "RST_STREAM INTERNAL_ERROR",
        err: { message: expect.stringContaining("cannot encode field google.protobuf.Duration.nanos") },
      });
    });
  });

  it("drops a connection-specific field from the trailers instead of letting Node throw on it", async () => {
    await besideAHealthyCall(async () => {
      const failing = openCall(session);
      expect(await failing.ask("first")).toBe("first");
      failing.send("connection-metadata");
      const ended = await failing.ended;
      expect(ended.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect(grpcStatus(ended)).toEqual({ code: Code.FailedPrecondition, message: "refused with a connection field" });
      expect(ended.trailers?.connection).toBeUndefined();
    });
  });
});
