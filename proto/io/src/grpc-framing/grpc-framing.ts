/**
 * gRPC length-prefixed message framing ("envelopes", as gRPC over HTTP/2 specifies them): each
 * message on the wire is a 1-byte flag field, a 4-byte big-endian length and that many bytes of
 * message. Flag bit 0 says the message is compressed with the call's `grpc-encoding`; the other
 * bits are reserved.
 *
 * The one implementation of the framing: the control plane's lean gRPC route
 * (control-plane/src/platform/server/grpc-stream-route.ts), its tests and the fleet simulator's lean streams
 * (player/sim/lean-stream.ts) use it. Node only (Buffer): a subpath of its own, so `@avtech/io`'s
 * main entry stays usable in the browser.
 */

/** Bytes before each message: the flag byte and the 4-byte big-endian length. */
export const envelopeHeaderBytes = 5;

/** Flag bit set on a message compressed with the call's `grpc-encoding`. */
export const envelopeFlagCompressed = 0b1;

/** Largest length a header can carry (uint32). */
const maxEnvelopeLength = 0xffff_ffff;

/** One framed message: its flag byte and its bytes. */
export interface Envelope {
  flags: number;
  data: Buffer;
}

/** The 5-byte header of a message of `length` bytes: `flags`, then the length in big-endian order. */
export function encodeEnvelopeHeader(flags: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(envelopeHeaderBytes);
  header[0] = flags;
  header.writeUInt32BE(length, 1);
  return header;
}

/**
 * `message` framed for the wire, in one new buffer (one allocation and one copy of the message).
 * `flags` defaults to 0 (not compressed).
 */
export function encodeEnvelope(message: Uint8Array, flags = 0): Buffer {
  const frame = Buffer.allocUnsafe(envelopeHeaderBytes + message.length);
  frame[0] = flags;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, envelopeHeaderBytes);
  return frame;
}

/** What {@link EnvelopeDecoder} needs. */
export interface EnvelopeDecoderOptions {
  /** Largest message accepted, in bytes; a larger length in a header is refused before its body arrives. */
  readMaxBytes: number;
  /**
   * Whether the call negotiated a `grpc-encoding`. When false, a message whose compressed flag is
   * set is refused as soon as its header arrives.
   */
  compression: boolean;
}

/**
 * What {@link EnvelopeDecoder.next} found:
 * - `envelope`: the next whole message;
 * - `incomplete`: no whole message is buffered; push more bytes;
 * - `tooLarge`: a header announced a message longer than `readMaxBytes` (refused before its body);
 * - `compressedWithoutEncoding`: a header has the compressed flag and no `grpc-encoding` was negotiated.
 *
 * After a refusal (`tooLarge`, `compressedWithoutEncoding`) the decoder keeps answering it.
 */
export type EnvelopeRead =
  | { type: "envelope"; envelope: Envelope }
  | { type: "incomplete" }
  | { type: "tooLarge"; length: number; readMaxBytes: number }
  | { type: "compressedWithoutEncoding" };

/**
 * An incremental decoder of a byte stream of envelopes, for a body that arrives in chunks (a large
 * message arrives in many HTTP/2 DATA frames, many small ones in one). Received chunks are kept as
 * they came, not concatenated: a message that lies inside one chunk is returned as a view of it,
 * and one that spans chunks is copied once, when it is complete.
 *
 * WARNING: returned `data` may be a view of a pushed chunk; do not modify pushed chunks.
 */
export class EnvelopeDecoder {
  readonly #readMaxBytes: number;
  readonly #compression: boolean;
  /** Received bytes not decoded yet, as they came. */
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  /** Header of the message whose body is still arriving. */
  #header: { flags: number; length: number } | undefined;
  #refusal: EnvelopeRead | undefined;

  constructor(options: EnvelopeDecoderOptions) {
    this.#readMaxBytes = options.readMaxBytes;
    this.#compression = options.compression;
  }

  /** Adds received bytes (kept, not copied). Ignored after a refusal. */
  push(chunk: Buffer): void {
    if (this.#refusal || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** True while bytes of an unfinished message are held: a body that ends now ended inside a message. */
  get partial(): boolean {
    return this.#buffered > 0 || this.#header !== undefined;
  }

  /** Decodes the next message from the bytes pushed so far; see {@link EnvelopeRead}. */
  next(): EnvelopeRead {
    if (this.#refusal) return this.#refusal;
    if (this.#header === undefined) {
      if (this.#buffered < envelopeHeaderBytes) return { type: "incomplete" };
      const bytes = this.#take(envelopeHeaderBytes);
      const header = { flags: bytes[0] as number, length: bytes.readUInt32BE(1) };
      if (header.flags & envelopeFlagCompressed && !this.#compression) {
        return this.#refuse({ type: "compressedWithoutEncoding" });
      }
      if (header.length > this.#readMaxBytes) {
        return this.#refuse({ type: "tooLarge", length: header.length, readMaxBytes: this.#readMaxBytes });
      }
      this.#header = header;
    }
    if (this.#buffered < this.#header.length) return { type: "incomplete" };
    const { flags, length } = this.#header;
    this.#header = undefined;
    return { type: "envelope", envelope: { flags, data: this.#take(length) } };
  }

  #refuse(refusal: EnvelopeRead): EnvelopeRead {
    this.#refusal = refusal;
    this.#chunks.length = 0;
    this.#buffered = 0;
    return refusal;
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
}

/**
 * Every message in `bytes`, a whole body of envelopes (e.g. a response body a test collected).
 * Accepts any flags and length; throws when `bytes` ends inside a message.
 */
export function decodeEnvelopes(bytes: Uint8Array): Envelope[] {
  const decoder = new EnvelopeDecoder({ readMaxBytes: maxEnvelopeLength, compression: true });
  decoder.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const envelopes: Envelope[] = [];
  for (let read = decoder.next(); read.type === "envelope"; read = decoder.next()) envelopes.push(read.envelope);
  if (decoder.partial) throw new Error(`the body ends inside a message (${bytes.length} bytes)`);
  return envelopes;
}
