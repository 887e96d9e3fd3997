import { describe, expect, it } from "vitest";
import {
  decodeEnvelopes,
  EnvelopeDecoder,
  type EnvelopeRead,
  encodeEnvelope,
  encodeEnvelopeHeader,
  envelopeFlagCompressed,
} from "./grpc-framing.ts";

const bytes = (...values: number[]) => Buffer.from(values);

/** Every read until the decoder needs more bytes (or keeps answering a refusal). */
function drain(decoder: EnvelopeDecoder): EnvelopeRead[] {
  const reads: EnvelopeRead[] = [];
  for (let read = decoder.next(); read.type !== "incomplete"; read = decoder.next()) {
    reads.push(read);
    if (read.type !== "envelope") break;
  }
  return reads;
}

const dataOf = (reads: EnvelopeRead[]) =>
  reads.map((read) => (read.type === "envelope" ? [...read.envelope.data] : []));

describe("encoding", () => {
  it("writes the flag byte, the big-endian length and the message", () => {
    expect([...encodeEnvelope(bytes(7, 8, 9))]).toEqual([0, 0, 0, 0, 3, 7, 8, 9]);
    expect([...encodeEnvelope(bytes(1), envelopeFlagCompressed)]).toEqual([1, 0, 0, 0, 1, 1]);
    expect([...encodeEnvelope(new Uint8Array(0))]).toEqual([0, 0, 0, 0, 0]);
    expect([...encodeEnvelope(new Uint8Array(0x01_02_03))].slice(0, 5)).toEqual([0, 0, 1, 2, 3]);
  });

  it("writes a header alone, for any length (a test may announce more than it sends)", () => {
    expect([...encodeEnvelopeHeader(0, 0xffff_ffff)]).toEqual([0, 0xff, 0xff, 0xff, 0xff]);
    expect([...encodeEnvelopeHeader(envelopeFlagCompressed, 258)]).toEqual([1, 0, 0, 1, 2]);
  });

  it("round-trips through decodeEnvelopes, flags included", () => {
    const body = Buffer.concat([
      encodeEnvelope(bytes(1, 2)),
      encodeEnvelope(new Uint8Array(0)),
      encodeEnvelope(bytes(3), envelopeFlagCompressed),
    ]);
    expect(decodeEnvelopes(body).map(({ flags, data }) => ({ flags, data: [...data] }))).toEqual([
      { flags: 0, data: [1, 2] },
      { flags: 0, data: [] },
      { flags: 1, data: [3] },
    ]);
    expect(decodeEnvelopes(new Uint8Array(0))).toEqual([]);
  });

  it("decodeEnvelopes refuses a body that ends inside a header or a message", () => {
    const whole = encodeEnvelope(bytes(1, 2, 3));
    expect(() => decodeEnvelopes(whole.subarray(0, 3))).toThrow("the body ends inside a message");
    expect(() => decodeEnvelopes(whole.subarray(0, whole.length - 1))).toThrow("the body ends inside a message");
  });
});

describe("the incremental decoder", () => {
  const options = { readMaxBytes: 1024, compression: false };

  it("decodes many messages from one chunk, in order, as views of that chunk (no copy)", () => {
    const chunk = Buffer.concat([encodeEnvelope(bytes(1)), encodeEnvelope(bytes(2, 2)), encodeEnvelope(bytes(3))]);
    const decoder = new EnvelopeDecoder(options);
    decoder.push(chunk);
    const reads = drain(decoder);
    expect(dataOf(reads)).toEqual([[1], [2, 2], [3]]);
    for (const read of reads) if (read.type === "envelope") expect(read.envelope.data.buffer).toBe(chunk.buffer);
    expect(decoder.partial).toBe(false);
    expect(decoder.next()).toEqual({ type: "incomplete" });
  });

  it("decodes a message split byte by byte, copied once when complete", () => {
    const frame = encodeEnvelope(bytes(4, 5, 6, 7));
    const decoder = new EnvelopeDecoder(options);
    const reads: EnvelopeRead[] = [];
    for (const [i, byte] of [...frame].entries()) {
      decoder.push(bytes(byte));
      reads.push(...drain(decoder));
      if (i < frame.length - 1) expect(decoder.partial).toBe(true);
    }
    expect(dataOf(reads)).toEqual([[4, 5, 6, 7]]);
    expect(decoder.partial).toBe(false);
  });

  it("keeps what follows a message in the same chunk for the next one", () => {
    const frames = Buffer.concat([encodeEnvelope(bytes(1, 1, 1)), encodeEnvelope(bytes(2, 2, 2))]);
    const decoder = new EnvelopeDecoder(options);
    decoder.push(frames.subarray(0, 10));
    expect(dataOf(drain(decoder))).toEqual([[1, 1, 1]]);
    expect(decoder.partial).toBe(true);
    decoder.push(frames.subarray(10));
    expect(dataOf(drain(decoder))).toEqual([[2, 2, 2]]);
    expect(decoder.partial).toBe(false);
  });

  it("accepts a message of exactly readMaxBytes and an empty one", () => {
    const decoder = new EnvelopeDecoder({ readMaxBytes: 3, compression: false });
    decoder.push(Buffer.concat([encodeEnvelope(bytes(1, 2, 3)), encodeEnvelope(new Uint8Array(0))]));
    expect(dataOf(drain(decoder))).toEqual([[1, 2, 3], []]);
  });

  it("refuses a length above readMaxBytes as soon as the header arrives, and keeps refusing", () => {
    const decoder = new EnvelopeDecoder({ readMaxBytes: 3, compression: false });
    decoder.push(encodeEnvelopeHeader(0, 4));
    const refusal = { type: "tooLarge", length: 4, readMaxBytes: 3 };
    expect(decoder.next()).toEqual(refusal);
    decoder.push(bytes(1, 2, 3, 4, ...encodeEnvelope(bytes(1))));
    expect(decoder.next()).toEqual(refusal);
  });

  it("refuses a compressed message when no encoding was negotiated, before its body", () => {
    const decoder = new EnvelopeDecoder(options);
    decoder.push(encodeEnvelopeHeader(envelopeFlagCompressed, 100));
    expect(decoder.next()).toEqual({ type: "compressedWithoutEncoding" });
  });

  it("passes the compressed flag on when an encoding was negotiated", () => {
    const decoder = new EnvelopeDecoder({ readMaxBytes: 1024, compression: true });
    decoder.push(encodeEnvelope(bytes(9), envelopeFlagCompressed));
    expect(drain(decoder)).toEqual([{ type: "envelope", envelope: { flags: 1, data: bytes(9) } }]);
  });
});
