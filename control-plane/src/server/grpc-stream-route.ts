import { Http2ServerRequest, Http2ServerResponse, type OutgoingHttpHeaders, type ServerHttp2Stream } from "node:http2";
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

/** What {@link createGrpcStreamRoute} needs. */
export type GrpcStreamRouteOptions<I extends DescMessage, O extends DescMessage> = StreamMethodImpl<I, O> & {
  /** The same interceptors, in the same order, that the Connect adapter applies. */
  interceptors: readonly Interceptor[];
  /** Largest request message accepted, in bytes. */
  readMaxBytes: number;
  contextValues: (req: Http2ServerRequest) => ContextValues;
};

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
const envelopeHeaderBytes = 5;

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

  async function serve(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const { stream } = res;
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
    stream.once("close", () => context.abort(new ConnectError("the client closed the stream", Code.Canceled)));
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

/** Request messages as an async iterable, parsed from the request body's gRPC envelopes. */
class Inbound<I extends DescMessage> implements AsyncIterable<MessageShape<I>> {
  readonly #req: Http2ServerRequest;
  readonly #schema: I;
  readonly #readMaxBytes: number;
  readonly #ready: { message: MessageShape<I>; bytes: number }[] = [];
  #readyBytes = 0;
  /** Received bytes not parsed yet, as they came (a large message arrives in many HTTP/2 frames). */
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  /** Length of the message whose header was read and whose body is still arriving. */
  #bodyLength: number | undefined;
  #ended = false;
  #error: ConnectError | undefined;
  #wake: (() => void) | undefined;

  constructor(req: Http2ServerRequest, schema: I, readMaxBytes: number) {
    this.#req = req;
    this.#schema = schema;
    this.#readMaxBytes = readMaxBytes;
    req.on("data", (chunk: Buffer) => this.#receive(chunk));
    // Node ends the request body of a stream the client reset as if it had finished, just before it
    // reports the reset; deciding one turn later tells a reset from a finished request. (A reset
    // also closes the stream, which aborts the call's context: see `serve`.)
    req.once("end", () =>
      setImmediate(() => {
        if (req.aborted) this.fail(new ConnectError("the client canceled the call", Code.Canceled));
        else if (this.#buffered > 0 || this.#bodyLength !== undefined) {
          this.fail(new ConnectError("the request ended inside a message", Code.InvalidArgument));
        } else {
          this.#ended = true;
          this.#wakeReader();
        }
      }),
    );
  }

  /** Ends iteration with `error` unless it already ended. */
  fail(error: ConnectError): void {
    if (this.#ended || this.#error) return;
    this.#error = error;
    this.#chunks.length = 0;
    this.#wakeReader();
  }

  #receive(chunk: Buffer): void {
    if (this.#error) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#bodyLength === undefined) {
        if (this.#buffered < envelopeHeaderBytes) break;
        const header = this.#take(envelopeHeaderBytes);
        if ((header[0] as number) & 0b1) {
          this.fail(new ConnectError("compressed message without grpc-encoding", Code.Internal));
          return;
        }
        const length = header.readUInt32BE(1);
        if (length > this.#readMaxBytes) {
          this.fail(
            new ConnectError(
              `message size ${length} is larger than the configured readMaxBytes ${this.#readMaxBytes}`,
              Code.ResourceExhausted,
            ),
          );
          return;
        }
        this.#bodyLength = length;
      }
      if (this.#buffered < this.#bodyLength) break;
      const body = this.#take(this.#bodyLength);
      this.#bodyLength = undefined;
      try {
        this.#ready.push({ message: fromBinary(this.#schema, body), bytes: body.length });
        this.#readyBytes += body.length;
      } catch (error) {
        this.fail(new ConnectError(`cannot parse the request message: ${String(error)}`, Code.InvalidArgument));
        return;
      }
    }
    if (this.#ready.length >= inboundHighWater.messages || this.#readyBytes >= inboundHighWater.bytes) {
      this.#req.pause();
    }
    this.#wakeReader();
  }

  /** The next `n` buffered bytes: a view when one chunk holds them, else one copy. */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.#buffered -= n;
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0] as Buffer;
      const part = Math.min(n - filled, chunk.length);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    return out;
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
  readonly #stream: ServerHttp2Stream;
  #finished = false;

  constructor(res: Http2ServerResponse) {
    this.#res = res;
    this.#stream = res.stream;
  }

  async send(bytes: Uint8Array, header: Headers): Promise<void> {
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) throw new ConnectError("the client closed the stream", Code.Canceled);
    if (!stream.headersSent) stream.respond(responseHeaders(header), { waitForTrailers: true });
    const frame = Buffer.allocUnsafe(envelopeHeaderBytes + bytes.length);
    frame[0] = 0;
    frame.writeUInt32BE(bytes.length, 1);
    frame.set(bytes, envelopeHeaderBytes);
    if (!stream.write(frame)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off("drain", done);
          stream.off("close", done);
          resolve();
        };
        stream.on("drain", done);
        stream.on("close", done);
      });
    }
  }

  /** Ends the call with a status: in trailers after messages, or as a trailers-only response. */
  finish(error: ConnectError | undefined, header = new Headers(), trailer = new Headers()): void {
    const stream = this.#stream;
    if (this.#finished || stream.destroyed || stream.closed) return;
    this.#finished = true;
    const status = nodeHeaders(setTrailerStatus(new Headers(trailer), error));
    if (!stream.headersSent) {
      stream.respond({ ...responseHeaders(header), ...status }, { endStream: true });
      return;
    }
    // Node's compatibility response (which every HTTP/2 request handler gets) sends its trailers
    // when the stream asks for them, so the status goes there.
    this.#res.addTrailers(status);
    stream.end();
  }
}

function responseHeaders(header: Headers): OutgoingHttpHeaders {
  return { ...nodeHeaders(header), ":status": 200, "content-type": "application/grpc+proto" };
}

function nodeHeaders(headers: Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  headers.forEach((value, key) => {
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
