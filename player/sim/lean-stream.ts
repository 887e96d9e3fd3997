import http2 from "node:http2";
import { EnvelopeDecoder, encodeEnvelope } from "@avtech/io/grpc-framing";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  ConnectResponseSchema,
  DeviceService,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { simulatedHeartbeat } from "./messages.ts";

/**
 * The screen stream of a simulated screen WITHOUT the Connect client: plain node:http2 with gRPC
 * length-prefixed framing. A load test's simulator shares the machine with the server it
 * measures, so it must cost as little as possible per message: incoming messages are decoded only
 * as far as their kind (and, for a desired state, its version); heartbeats and acks are encoded
 * once and reused (every screen acks the same version of a fleet-wide publish). Welcome, commands
 * and config are rare and decoded in full. Wire behaviour is the same as the Connect-based path.
 */

const connectPath = `/${DeviceService.typeName}/${DeviceService.method.connect.name}`;
const responseField = {
  welcome: ConnectResponseSchema.field.welcome.number,
  desiredState: ConnectResponseSchema.field.desiredState.number,
};
const versionField = DesiredStateSchema.field.version.number;

/** Largest server message a simulated screen takes (a desired state of a big playlist is well below it). */
const readMaxBytes = 64 * 1024 * 1024;

/** One request message, gRPC-framed for the wire. */
function frame(message: ConnectRequest): Buffer {
  return encodeEnvelope(toBinary(ConnectRequestSchema, message));
}

/** Encoded messages shared by every lean stream of one simulator. */
export class LeanFrames {
  readonly #acks = new Map<bigint, Buffer>();
  readonly #heartbeats: { standby: Buffer[]; playing: Buffer[] };

  constructor() {
    // A few variants so health charts of simulated screens are not flat lines.
    const variants = (state: PlaybackState) =>
      Array.from({ length: 8 }, (_, n) => frame(simulatedHeartbeat(state, n / 8)));
    this.#heartbeats = { standby: variants(PlaybackState.STANDBY), playing: variants(PlaybackState.PLAYING) };
  }

  /** A heartbeat for a screen that plays (applied a state) or stands by. */
  heartbeat(playing: boolean): Buffer {
    const list = playing ? this.#heartbeats.playing : this.#heartbeats.standby;
    return list[Math.floor(Math.random() * list.length)] as Buffer;
  }

  /** The ack of `version` (encoded once per version). */
  ack(version: bigint): Buffer {
    let framed = this.#acks.get(version);
    if (!framed) {
      framed = frame(
        create(ConnectRequestSchema, {
          message: {
            case: "syncReport",
            value: { version, result: { case: "applied", value: { appliedAt: timestampNow() } } },
          },
        }),
      );
      // Fleet-wide publishes move in step: the last few versions cover every screen.
      if (this.#acks.size >= 16) this.#acks.delete(this.#acks.keys().next().value as bigint);
      this.#acks.set(version, framed);
    }
    return framed;
  }
}

/** What one lean stream reports back to the simulator. */
export interface LeanStreamEvents {
  /** Welcome arrived; `heartbeatMs` is the interval the server asks for (0 = keep the default). */
  welcome(heartbeatMs: number): void;
  desiredState(version: bigint): void;
  commandAnswered(): void;
}

/**
 * Opens one Connect stream on `session`, says hello, heartbeats, acks every desired state and
 * answers commands, until the stream ends; resolves then (rejects on a stream error).
 */
export function runLeanStream(options: {
  session: http2.ClientHttp2Session;
  token: string;
  hello: ConnectRequest;
  frames: LeanFrames;
  heartbeatMs: number;
  isPlaying(): boolean;
  events: LeanStreamEvents;
  signal: AbortSignal;
  /** Proof of play: every `everyMs` (first at a random point of the first interval), send what `take` gives. */
  plays?: PlayBatches;
}): Promise<void> {
  const { session, frames, events } = options;
  return new Promise((resolve, reject) => {
    const request = session.request({
      ":method": "POST",
      ":path": connectPath,
      "content-type": "application/grpc+proto",
      te: "trailers",
      authorization: `Bearer ${options.token}`,
    });
    let heartbeatTimer: NodeJS.Timeout | undefined;
    const startHeartbeats = (ms: number) => {
      clearInterval(heartbeatTimer);
      heartbeatTimer = setInterval(() => request.write(frames.heartbeat(options.isPlaying())), ms);
      heartbeatTimer.unref();
    };
    const stopPlays = options.plays
      ? startPlayBatches(options.plays, (message) => request.write(frame(message)))
      : () => undefined;
    const onAbort = () => request.close(http2.constants.NGHTTP2_CANCEL);
    options.signal.addEventListener("abort", onAbort, { once: true });
    let grpcStatus = "0";
    let grpcMessage = "";
    request.on("trailers", (trailers) => {
      grpcStatus = String(trailers["grpc-status"] ?? "0");
      grpcMessage = String(trailers["grpc-message"] ?? "");
    });
    request.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) {
        grpcStatus = String(headers["grpc-status"]);
        grpcMessage = String(headers["grpc-message"] ?? "");
      }
    });
    const decoder = new EnvelopeDecoder({ readMaxBytes, compression: false });
    request.on("data", (chunk: Buffer) => {
      decoder.push(chunk);
      let read = decoder.next();
      for (; read.type === "envelope"; read = decoder.next()) handle(read.envelope.data);
      if (read.type !== "incomplete") {
        request.close(http2.constants.NGHTTP2_PROTOCOL_ERROR);
        reject(new Error(`the server sent a message the simulator cannot read (${read.type})`));
      }
    });
    const handle = (message: Uint8Array) => {
      const reader = new BinaryReader(message);
      const [field] = reader.tag();
      if (field === responseField.desiredState) {
        const version = versionOf(reader.bytes());
        events.desiredState(version);
        request.write(frames.ack(version));
        return;
      }
      const response = fromBinary(ConnectResponseSchema, message);
      const body = response.message;
      if (body.case === "welcome" && field === responseField.welcome) {
        const seconds = body.value.config?.heartbeatIntervalSeconds ?? 0;
        events.welcome(seconds * 1000);
        startHeartbeats(seconds ? seconds * 1000 : options.heartbeatMs);
        request.write(frames.heartbeat(options.isPlaying()));
      } else if (body.case === "command") {
        events.commandAnswered();
        request.write(
          frame(
            create(ConnectRequestSchema, {
              message: {
                case: "commandResult",
                value: {
                  commandId: body.value.commandId,
                  status: CommandStatus.SUCCEEDED,
                  message: `simulated ${CommandKind[body.value.kind] ?? "command"}`,
                  completedAt: timestampNow(),
                },
              },
            }),
          ),
        );
      } else if (body.case === "config" && body.value.heartbeatIntervalSeconds) {
        startHeartbeats(body.value.heartbeatIntervalSeconds * 1000);
      }
    };
    request.on("close", () => {
      clearInterval(heartbeatTimer);
      stopPlays();
      options.signal.removeEventListener("abort", onAbort);
      if (options.signal.aborted || grpcStatus === "0") resolve();
      else reject(new Error(`stream ended with grpc-status ${grpcStatus}: ${grpcMessage}`));
    });
    request.on("error", (error) => {
      clearInterval(heartbeatTimer);
      stopPlays();
      if (!options.signal.aborted) reject(error);
    });
    request.write(frame(options.hello));
  });
}

/** Play-event batches one stream sends (see SimulatedPlays in plays.ts). */
export interface PlayBatches {
  everyMs: number;
  /** The next batch, or undefined when there is nothing to send. */
  take(): ConnectRequest | undefined;
}

/** Sends `plays.take()` through `send` every `plays.everyMs`, the first time at a random point; returns the stop. */
export function startPlayBatches(plays: PlayBatches, send: (message: ConnectRequest) => void): () => void {
  let interval: NodeJS.Timeout | undefined;
  const tick = () => {
    const message = plays.take();
    if (message) send(message);
  };
  const first = setTimeout(() => {
    tick();
    interval = setInterval(tick, plays.everyMs);
    interval.unref();
  }, Math.random() * plays.everyMs);
  first.unref();
  return () => {
    clearTimeout(first);
    clearInterval(interval);
  };
}

/** The version (field 2) of an encoded DesiredState, without decoding the rest. */
function versionOf(document: Uint8Array): bigint {
  const reader = new BinaryReader(document);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === versionField) return BigInt(reader.uint64());
    reader.skip(wireType, field);
  }
  return 0n;
}
