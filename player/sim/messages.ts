import { type ConnectRequest, ConnectRequestSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import type { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";

/** The hello a simulated screen opens its stream with (both stream kinds send the same one). */
export function simulatedHello(screen: { appliedVersion: bigint; hardwareId: string }): ConnectRequest {
  return create(ConnectRequestSchema, {
    message: {
      case: "hello",
      value: {
        playerVersion: "0.1.0-sim",
        osVersion: "simulated",
        appliedVersion: screen.appliedVersion,
        bootId: screen.hardwareId,
        startedAt: timestampNow(),
        deviceTime: timestampNow(),
      },
    },
  });
}

/** A plausible heartbeat; `wobble` in [0, 1) varies load, temperature and position between screens. */
export function simulatedHeartbeat(state: PlaybackState, wobble: number): ConnectRequest {
  return create(ConnectRequestSchema, {
    message: {
      case: "heartbeat",
      value: {
        sentAt: timestampNow(),
        health: {
          cpuLoadPercent: 8 + wobble * 20,
          cpuTemperatureCelsius: 48 + wobble * 10,
          memoryUsedBytes: 600_000_000n,
          memoryTotalBytes: 4_000_000_000n,
          diskUsedBytes: 3_000_000_000n,
          diskTotalBytes: 28_000_000_000n,
          uptimeSeconds: BigInt(Math.floor(process.uptime())),
          displayConnected: true,
          clockSynced: true,
        },
        playback: { state, positionMs: Math.floor(wobble * 10_000) },
      },
    },
  });
}
