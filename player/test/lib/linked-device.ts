import { tmpdir } from "node:os";
import { DeviceFactsSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { HealthSchema } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import type { Enrollment } from "../../src/config/index.ts";
import { systemClock } from "../../src/lib/index.ts";
import { Link, PlayEventBuffer, type ReconnectOptions } from "../../src/link/index.ts";
import { requestFileRebooter } from "../../src/update/index.ts";
import { startDevice, type TestDevice } from "./device.ts";
import type { FakeControlPlane } from "./fake-control-plane.ts";

/** A device with its Link to a fake control plane. */
export interface LinkedDevice extends TestDevice {
  link: Link;
  playEvents: PlayEventBuffer;
  exits: number[];
  /** Stops the link (the device keeps its files). */
  stopLink(): Promise<void>;
}

/** Boots a device and runs its Link against `cp` with fast reconnects. */
export async function startLinkedDevice(
  cp: FakeControlPlane,
  options: {
    baseUrl: string;
    dataDir?: string;
    enrollment?: Enrollment;
    os?: () => { imageVersion: string; bootedSlot: string };
    /** Overrides of the fast reconnect timing below. */
    reconnect?: ReconnectOptions;
    /** The link's random source (jitter); default Math.random. */
    random?: () => number;
  },
): Promise<LinkedDevice> {
  const device = await startDevice({
    baseUrl: options.baseUrl,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  const logger = pino({ level: "silent" });
  const playEvents = new PlayEventBuffer({ dir: device.layout.playEventsDir, logger });
  await playEvents.load();
  device.playback.onPlayRecord((record) => playEvents.add(record));
  const exits: number[] = [];
  const link = new Link({
    transport: cp.transport,
    enrollment: options.enrollment ?? { kind: "enrollmentKey", key: "ek-1" },
    tokenFile: device.layout.tokenFile,
    hardwareId: "hw-1",
    facts: create(DeviceFactsSchema, { playerVersion: "0.1.0", osVersion: "test", hostname: "pi" }),
    bootId: "boot-1",
    startedAt: new Date(),
    reconciler: device.reconciler,
    playback: device.playback,
    health: { sample: async () => create(HealthSchema, { cpuLoadPercent: 12 }) },
    playEvents,
    rebooter: requestFileRebooter(device.layout.rebootRequestFile),
    exit: (code) => exits.push(code),
    clock: systemClock,
    logger,
    heartbeatIntervalSeconds: 15,
    tmpDir: tmpdir(),
    reconnect: { initialMs: 10, maxMs: 50, firstDelayMaxMs: 5, stableMs: 20_000, spreadMs: 5, ...options.reconnect },
    ...(options.random ? { random: options.random } : {}),
    ...(options.os ? { os: options.os } : {}),
  });
  device.reporter.forward = link;
  const abort = new AbortController();
  const running = link.run(abort.signal);
  const stopLink = async () => {
    abort.abort();
    await running;
  };
  return {
    ...device,
    link,
    playEvents,
    exits,
    stopLink,
    async stop() {
      await stopLink();
      await device.stop();
    },
    async destroy() {
      await stopLink();
      await device.destroy();
    },
  };
}
