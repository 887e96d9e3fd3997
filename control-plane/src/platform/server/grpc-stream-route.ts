/*
 * One Node HTTP/2 API: the compatibility API (Http2ServerRequest / Http2ServerResponse) for all
 * reading and writing. The route is entered from the server's request handler, which it shares
 * with connect-node's adapter, so by then Node has made the compatibility objects and they listen
 * on the stream: the request owns 'data'/'end', and the response answers the stream's
 * 'wantTrailers' with its own trailers (a second `sendTrailers` from core code would throw).
 * Driving the core Http2Stream underneath would fight those listeners; serving from the server's
 * 'stream' event instead would need every other request to bypass the compatibility layer too.
 * connect-node's adapter uses the same API. The backing stream is only read for `rstCode`, which
 * the compatibility API does not surface (connect-node reads it the same way).
 */
import { constants, Http2ServerRequest, Http2ServerResponse, type OutgoingHttpHeaders } from "node:http2";
import { EnvelopeDecoder, encodeEnvelope } from "@avtech/io/grpc-framing";
import {
  create,
  type DescMessage,
  type DescMethodBiDiStreaming,
  type DescMethodClientStreaming,
  type DescMethodStreaming,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createHandlerContext,
  type HandlerContext,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
} from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { Logger } from "pino";

/** A bidi method implementation as in a Connect `ServiceImpl`. */
export type BidiImpl<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: HandlerContext,
) => AsyncIterable<MessageInitShape<O>>;

/** A client-streaming method implementation as in a Connect `ServiceImpl`. */
export type ClientStreamImpl<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  context: HandlerContext,
) => Promise<MessageInitShape<O>>;

/** The method a route serves, with its implementation. */
export type StreamMethodImpl<I extends DescMessage, O extends DescMessage> =
  | { method: DescMethodBiDiStreaming<I, O>; impl: BidiImpl<I, O> }
  | { method: DescMethodClientStreaming<I, O>; impl: ClientStreamImpl<I, O> };

/** What every stream route of one server shares (createServer passes its own). */
export interface StreamRouteSettings {
  /** The same interceptors, in the same order, that the Connect adapter applies. */
  interceptors: readonly Interceptor[];
  /** Largest request message accepted, in bytes. */
  readMaxBytes: number;
  contextValues: (req: Http2ServerRequest) => ContextValues;
  /**
   * Where a failure of the route itself is logged: when ending a call throws (e.g. an error detail
   * cannot be encoded into the status, or Node refuses a header), the route logs it here and
   * closes that one stream with an internal error.
   */
  logger: Logger;
}

/** What {@link createGrpcStreamRoute} needs. */
export type GrpcStreamRouteOptions<I extends DescMessage, O extends DescMessage> = StreamMethodImpl<I, O> &
  StreamRouteSettings;

/**
 * Serves the request (and returns true) when it is a plain gRPC call of the route's method; any
 * other request (another path, gRPC-Web, Connect, a compressed or JSON gRPC call) is left to the
 * Connect adapter.
 */
export type GrpcStreamRoute = (req: Http2ServerRequest, res: Http2ServerResponse) => boolean;

/**
 * Parsed request messages (and their bytes) the implementation has not taken yet before the route
 * stops reading the stream; HTTP/2 flow control then holds the client back. The byte bound keeps an
 * upload of 1 MiB messages to a few MiB per call when the disk is slower than the network.
 */
const inboundHighWater = { messages: 16, bytes: 4 * 1024 * 1024 };

/**
 * A lean gRPC-over-HTTP/2 transport for ONE client-streaming or bidi method, running the same
 * implementation and interceptors as connect-node. connect-node passes every message, and every
 * HTTP/2 DATA chunk of a large one, through a chain of down-levelled async generators (envelope
 * split, parse, serialize, join, sink). For the device stream (a publish to the whole fleet sends
 * one message to and receives one from every screen) that chain cost more CPU than everything else
 * per screen (control-plane/src/fleet/README.md); for an upload of 1 MiB messages arriving in
 * 16 KiB frames it made the gRPC path use more server CPU than the HTTP one
 * (control-plane/README.md). Here a message is one `fromBinary` on the way in and one `toBinary` +
 * write on the way out.
 *
 * Only the identity encoding of the protobuf codec is handled; everything else falls through to
 * Connect, which also keeps answering the method over gRPC-Web and the Connect protocol.
 */
export function createGrpcStreamRoute<I extends DescMessage, O extends DescMessage>(
  options: GrpcStreamRouteOptions<I, O>,
): GrpcStreamRoute {
  const { method } = options;
  const path = `/${method.parent.typeName}/${method.name}`;
  const procedure = path.slice(1);
  return (req, res) => {
    // A TLS server that allows HTTP/1.1 passes its HTTP/1.1 requests to the same handler.
    if (!(req instanceof Http2ServerRequest) || !(res instanceof Http2ServerResponse)) return false;
    if (req.method !== "POST" || req.url !== path) return false;
    const contentType = req.headers["content-type"];
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
    const encoding = req.headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    void serve(req, res);
    return true;
  };

  /**
   * Serves one call. Never rejects: the whole call runs inside one try whose catch is the call's
   * final catch ({@link closeAfterFailure}).
   *
   * WARNING: keep every statement inside that outer try. The final catch sits here rather than in a
   * `.catch()` on the returned promise: that kept a second promise, its reaction and a closure over
   * `res` (with its context) alive for as long as the stream was open, for every call. A server
   * holds one device stream per screen; see control-plane/bench/fleet.bench.ts.
   */
  async function serve(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    try {
      const reply = new Reply(res);
      const timeout = parseTimeout(headerValue(req.headers["grpc-timeout"]), Number.MAX_SAFE_INTEGER);
      if (timeout.error) {
        reply.finish(timeout.error);
        return;
      }
      const context = createHandlerContext({
        service: method.parent,
        method,
        protocolName: "grpc",
        requestMethod: "POST",
        url: `http://${req.headers[":authority"] ?? "localhost"}${path}`,
        timeoutMs: timeout.timeoutMs,
        requestHeader: webHeaders(req),
        contextValues: options.contextValues(req),
      });
      const inbound = new Inbound<I>(req, method.input, options.readMaxBytes);
      // The context's signal aborts on the client's deadline and when the stream closes; either
      // ends the request messages, which is how the implementation learns of it.
      context.signal.addEventListener("abort", () => inbound.fail(ConnectError.from(context.signal.reason)), {
        once: true,
      });
      // The one 'close' listener of the call: the response emits 'close' once (Node's compatibility
      // layer detaches the response from its stream as it does), so no `once` wrapper is needed.
      res.on("close", () => {
        reply.closed();
        context.abort(
          resetError(req.stream.rstCode) ?? new ConnectError("the client closed the stream", Code.Canceled),
        );
      });
      const request: StreamRequest<I, O> = {
        stream: true,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: context.url,
        signal: context.signal,
        header: context.requestHeader,
        contextValues: context.values,
        message: inbound,
      };
      // As connect-node does: the first interceptor is the outermost, and the implementation sees
      // the request as the interceptors left it.
      const implementation: StreamCall = async (req) => ({
        stream: true,
        service: method.parent,
        method: method as DescMethodStreaming,
        header: context.responseHeader,
        trailer: context.responseTrailer,
        message: messages(
          method.output,
          outputsOf(options, req.message as AsyncIterable<MessageShape<I>>, {
            ...context,
            requestHeader: req.header,
            signal: req.signal,
            values: req.contextValues,
          }),
        ),
      });
      const invoke = options.interceptors.reduceRight<StreamCall>(
        (next, interceptor) => interceptor(next as Parameters<Interceptor>[0]) as StreamCall,
        implementation,
      );
      try {
        const response = await invoke(request as StreamRequest);
        for await (const message of response.message) {
          await reply.send(toBinary(method.output, message as MessageShape<O>), response.header);
        }
        reply.finish(undefined, response.header, response.trailer);
      } catch (error) {
        reply.finish(ConnectError.from(error));
      } finally {
        inbound.fail(new ConnectError("the call ended", Code.Canceled));
      }
    } catch (error) {
      closeAfterFailure(res, error);
    }
  }

  /**
   * The last resort when serving a call threw past its own error handling (e.g. writing the call's
   * status threw: an error detail that cannot be encoded, a header Node refuses): logs the error,
   * then closes this one stream with an internal error, as a trailers-only INTERNAL status while
   * no headers went out, else as RST_STREAM INTERNAL_ERROR.
   *
   * WARNING: must never throw. It ends the promise of every call, and an unhandled rejection ends
   * the process, which drops every screen's stream at once.
   */
  function closeAfterFailure(res: Http2ServerResponse, error: unknown): void {
    const statusPossible = !res.headersSent && !res.writableEnded;
    try {
      options.logger.error(
        { err: error, procedure, closedWith: statusPossible ? "grpc-status INTERNAL" : "RST_STREAM INTERNAL_ERROR" },
        "the gRPC stream route failed to end a call; closing its stream with an internal error",
      );
    } catch {
      // Nothing is left to report with; closing the stream below still matters.
    }
    try {
      if (statusPossible) {
        // Drops what the failed attempt had set (one of those headers may be what failed).
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        res.setHeader("content-type", "application/grpc+proto");
        res.setHeader("grpc-status", String(Code.Internal));
        res.setHeader("grpc-message", encodeURIComponent("internal error; the server logged the details"));
        res.end();
        return;
      }
    } catch {
      // Reset the stream instead.
    }
    try {
      // An error (not an AbortError) makes Node reset the stream with INTERNAL_ERROR.
      res.destroy(new Error("the gRPC stream route failed to end the call", { cause: error }));
    } catch {
      // The stream is gone already.
    }
  }
}

type StreamCall = (req: StreamRequest) => Promise<StreamResponse>;

/** The implementation's response messages: a bidi method's stream, or a client-streaming method's one answer. */
function outputsOf<I extends DescMessage, O extends DescMessage>(
  spec: StreamMethodImpl<I, O>,
  requests: AsyncIterable<MessageShape<I>>,
  context: HandlerContext,
): AsyncIterable<MessageInitShape<O>> {
  if (spec.method.methodKind === "bidi_streaming") return (spec.impl as BidiImpl<I, O>)(requests, context);
  const impl = spec.impl as ClientStreamImpl<I, O>;
  return (async function* () {
    yield await impl(requests, context);
  })();
}

/** The implementation's output as messages (it may yield init objects), as connect-node normalises it. */
async function* messages<O extends DescMessage>(
  schema: O,
  output: AsyncIterable<MessageInitShape<O>>,
): AsyncGenerator<MessageShape<O>> {
  for await (const message of output) yield create(schema, message);
}

/**
 * The error a call ends with when the client reset its stream, from the stream's RST_STREAM code,
 * or undefined while the stream is open or when it closed without an error (NO_ERROR).
 */
function resetError(rstCode: number | undefined): ConnectError | undefined {
  if (rstCode === undefined || rstCode === constants.NGHTTP2_NO_ERROR) return undefined;
  if (rstCode === constants.NGHTTP2_CANCEL) return new ConnectError("the client canceled the call", Code.Canceled);
  return new ConnectError(`the stream was reset with HTTP/2 error code ${rstCode}`, Code.Canceled);
}

/** Request messages as an async iterable, parsed from the request body's gRPC envelopes. */
class Inbound<I extends DescMessage> implements AsyncIterable<MessageShape<I>> {
  readonly #req: Http2ServerRequest;
  readonly #schema: I;
  /** Dropped when the call fails: it may hold a partly received message. */
  #decoder: EnvelopeDecoder | undefined;
  readonly #ready: { message: MessageShape<I>; bytes: number }[] = [];
  #readyBytes = 0;
  #ended = false;
  #error: ConnectError | undefined;
  #wake: (() => void) | undefined;

  constructor(req: Http2ServerRequest, schema: I, readMaxBytes: number) {
    this.#req = req;
    this.#schema = schema;
    // Only the identity encoding reaches the route (see createGrpcStreamRoute).
    this.#decoder = new EnvelopeDecoder({ readMaxBytes, compression: false });
    req.on("data", (chunk: Buffer) => this.#receive(chunk));
    // WARNING: the end of the body alone does not say the request finished. Node's HTTP/2 client
    // (under grpc-js and connect-node) cancels a call by sending END_STREAM and then RST_STREAM
    // CANCEL, and the body's 'end' reaches us before Node has processed the reset: rstCode is
    // still NO_ERROR then (measured on Node 24). So the route decides in the next check phase,
    // after this loop turn's I/O has been parsed, from the stream's rstCode: a reset that came
    // with the END_STREAM (grpc-js's cancel, as measured) fails the request messages with its
    // error. A reset that arrives in a later read (node:http2's close() can send it in a later
    // write) comes after a finished request: the implementation has seen the end, and the
    // stream's close then aborts the call's context with the reset's error (see `serve`).
    // `on`, not `once`: a readable emits 'end' at most once, and a `once` wrapper would stay in
    // memory with every open stream.
    req.on("end", () => setImmediate(() => this.#bodyEnded()));
  }

  /** Ends iteration with `error` unless it already ended. */
  fail(error: ConnectError): void {
    if (this.#ended || this.#error) return;
    this.#error = error;
    this.#decoder = undefined;
    this.#wakeReader();
  }

  #bodyEnded(): void {
    if (this.#ended || this.#error) return;
    const reset = resetError(this.#req.stream.rstCode);
    if (reset) this.fail(reset);
    else if (this.#decoder?.partial) {
      this.fail(new ConnectError("the request ended inside a message", Code.InvalidArgument));
    } else {
      this.#ended = true;
      this.#wakeReader();
    }
  }

  #receive(chunk: Buffer): void {
    const decoder = this.#decoder;
    if (this.#error || !decoder) return;
    decoder.push(chunk);
    for (let read = decoder.next(); read.type !== "incomplete"; read = decoder.next()) {
      switch (read.type) {
        case "compressedWithoutEncoding":
          this.fail(new ConnectError("compressed message without grpc-encoding", Code.Internal));
          return;
        case "tooLarge":
          this.fail(
            new ConnectError(
              `message size ${read.length} is larger than the configured readMaxBytes ${read.readMaxBytes}`,
              Code.ResourceExhausted,
            ),
          );
          return;
        case "envelope": {
          const body = read.envelope.data;
          try {
            this.#ready.push({ message: fromBinary(this.#schema, body), bytes: body.length });
            this.#readyBytes += body.length;
          } catch (error) {
            this.fail(new ConnectError(`cannot parse the request message: ${String(error)}`, Code.InvalidArgument));
            return;
          }
        }
      }
    }
    if (this.#ready.length >= inboundHighWater.messages || this.#readyBytes >= inboundHighWater.bytes) {
      this.#req.pause();
    }
    this.#wakeReader();
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<MessageShape<I>> {
    for (;;) {
      const next = this.#ready.shift();
      if (next !== undefined) {
        this.#readyBytes -= next.bytes;
        if (this.#ready.length === 0 && this.#req.isPaused()) this.#req.resume();
        yield next.message;
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}

/** The response side of one call: headers with the first message, then messages, then trailers. */
class Reply {
  readonly #res: Http2ServerResponse;
  #closed = false;
  #finished = false;

  constructor(res: Http2ServerResponse) {
    this.#res = res;
  }

  /**
   * Told by the call's one 'close' listener (see `serve`): nothing more can be written. A listener
   * of its own would cost every open stream another closure and listener.
   */
  closed(): void {
    this.#closed = true;
  }

  async send(bytes: Uint8Array, header: Headers): Promise<void> {
    const res = this.#res;
    if (this.#closed) throw new ConnectError("the client closed the stream", Code.Canceled);
    if (!res.headersSent) res.writeHead(200, responseHeaders(header));
    if (!res.write(encodeEnvelope(bytes))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    }
  }

  /** Ends the call with a status: in trailers after messages, or as a trailers-only response. */
  finish(error: ConnectError | undefined, header = new Headers(), trailer = new Headers()): void {
    const res = this.#res;
    if (this.#finished || this.#closed) return;
    this.#finished = true;
    const status = setTrailerStatus(new Headers(trailer), error);
    if (!res.headersSent) {
      // Trailers-only: `end()` sends the headers set so far with END_STREAM.
      for (const [name, value] of Object.entries({ ...responseHeaders(header), ...nodeHeaders(status) })) {
        res.setHeader(name, value as string);
      }
      res.end();
      return;
    }
    res.addTrailers(trailerFields(status));
    res.end();
  }
}

function responseHeaders(header: Headers): OutgoingHttpHeaders {
  return { ...nodeHeaders(header), "content-type": "application/grpc+proto" };
}

function nodeHeaders(headers: Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}

/**
 * Fields HTTP/2 forbids (RFC 9113 8.2.2). Node's compatibility response drops them from headers,
 * but throws on them from inside its 'wantTrailers' handler, outside any promise, which ends the
 * process; an error's metadata becomes trailers, so they are dropped here.
 */
const connectionSpecificFields = new Set([
  "connection",
  "http2-settings",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

function trailerFields(headers: Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  headers.forEach((value, key) => {
    if (connectionSpecificFields.has(key) || (key === "te" && value !== "trailers")) return;
    out[key] = value;
  });
  return out;
}

function webHeaders(req: Http2ServerRequest): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(key, one);
  }
  return headers;
}

function headerValue(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

/** A stream route waiting for its server's settings: what createServer's `streams` takes. */
export type StreamRouteFactory = (settings: StreamRouteSettings) => GrpcStreamRoute;

/** The stream route of `method` served by `impl`, built once the server gives its settings. */
export function streamRoute<I extends DescMessage, O extends DescMessage>(
  methodImpl: StreamMethodImpl<I, O>,
): StreamRouteFactory {
  return (settings) => createGrpcStreamRoute<I, O>({ ...methodImpl, ...settings });
}
