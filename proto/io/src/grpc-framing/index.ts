export type { Envelope, EnvelopeDecoderOptions, EnvelopeRead } from "./grpc-framing.ts";
export {
  decodeEnvelopes,
  EnvelopeDecoder,
  encodeEnvelope,
  encodeEnvelopeHeader,
  envelopeFlagCompressed,
  envelopeHeaderBytes,
} from "./grpc-framing.ts";
