import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { AsyncQueue } from "@avtech/io";
import { CommandKind } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import {
  type ConnectRequest,
  type ConnectResponse,
  ConnectResponseSchema,
  DeviceService,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FleetSimulator, startFleetSimulator } from "./simulator.ts";

/** A minimal stand-in control plane: enrolls anyone with the key and records what screens send. */
function fakeControlPlane() {
  const outboxes = new Map<string, AsyncQueue<ConnectResponse>>();
  const received: Array<{ token: string; request: ConnectRequest }> = [];
  const routes = (router: ConnectRouter) =>
    router.service(DeviceService, {
      register: (request) => ({
        outcome: {
          case: "enrolled",
          value: {
            deviceId: `id-${request.hardwareId}`,
            deviceToken: `token-${request.hardwareId}`,
            screenName: request.hardwareId,
          },
        },
      }),
      completePairing: () => ({}),
      async *connect(requests, context) {
        const token = (context.requestHeader.get("authorization") ?? "").replace("Bearer ", "");
        const outbox = new AsyncQueue<ConnectResponse>();
        outboxes.set(token, outbox);
        outbox.push(
          create(ConnectResponseSchema, {
            message: { case: "welcome", value: { deviceId: token, config: { heartbeatIntervalSeconds: 1 } } },
          }),
        );
        void (async () => {
          for await (const request of requests) received.push({ token, request });
          outbox.close();
        })();
        yield* outbox;
      },
    });
  const server = http2.createServer(connectNodeAdapter({ routes }));
  return { server, outboxes, received };
}

describe("the fleet simulator", () => {
  const plane = fakeControlPlane();
  let simulator: FleetSimulator;

  beforeAll(async () => {
    await new Promise<void>((resolve) => plane.server.listen(0, "127.0.0.1", resolve));
    const { port } = plane.server.address() as AddressInfo;
    simulator = await startFleetSimulator({
      baseUrl: `http://127.0.0.1:${port}`,
      count: 30,
      enrollmentKey: "key",
      streamsPerConnection: 10,
    });
    await simulator.whenConnected(10_000);
  });

  afterAll(async () => {
    await simulator.stop();
    plane.server.close();
  });

  it("enrolls every screen and holds one stream each, starting with hello", () => {
    expect(simulator.stats()).toMatchObject({ registered: 30, connected: 30, streamErrors: 0 });
    expect(plane.outboxes.size).toBe(30);
    const firstMessages = new Map<string, string | undefined>();
    for (const { token, request } of plane.received)
      if (!firstMessages.has(token)) firstMessages.set(token, request.message.case);
    expect([...firstMessages.values()].every((kind) => kind === "hello")).toBe(true);
  });

  it("acks every desired state it receives and answers commands", async () => {
    for (const outbox of plane.outboxes.values()) {
      outbox.push(create(ConnectResponseSchema, { message: { case: "desiredState", value: { version: 3n } } }));
      outbox.push(
        create(ConnectResponseSchema, {
          message: { case: "command", value: { commandId: "c1", kind: CommandKind.IDENTIFY } },
        }),
      );
    }
    await expect
      .poll(() => plane.received.filter((r) => r.request.message.case === "syncReport").length, { timeout: 5000 })
      .toBe(30);
    await expect
      .poll(() => plane.received.filter((r) => r.request.message.case === "commandResult").length, { timeout: 5000 })
      .toBe(30);
    expect(simulator.screens.every((screen) => screen.appliedVersion === 3n && screen.receivedAt.has(3n))).toBe(true);
  });

  it("sends heartbeats at the interval the server's welcome sets", async () => {
    const count = () => plane.received.filter((r) => r.request.message.case === "heartbeat").length;
    const before = count();
    await expect.poll(count, { timeout: 3000 }).toBeGreaterThanOrEqual(before + 30);
  });
});

describe("the fleet simulator's proof of play", () => {
  const plane = fakeControlPlane();
  let simulator: FleetSimulator;
  const clips = [
    { videoId: "v-1", playlistId: "p-1", sha256: "a".repeat(64) },
    { videoId: "v-2", playlistId: "p-1", sha256: "b".repeat(64) },
  ];

  beforeAll(async () => {
    await new Promise<void>((resolve) => plane.server.listen(0, "127.0.0.1", resolve));
    const { port } = plane.server.address() as AddressInfo;
    simulator = await startFleetSimulator({
      baseUrl: `http://127.0.0.1:${port}`,
      count: 4,
      enrollmentKey: "key",
      streams: "lean",
      plays: { clips, clipMs: 50, batchMs: 200 },
    });
    await simulator.whenConnected(10_000);
  });

  afterAll(async () => {
    await simulator.stop();
    plane.server.close();
  });

  it("sends no plays until told, then every screen's clips back to back, each event once", async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const plays = () => plane.received.filter((r) => r.request.message.case === "playEvents");
    expect(plays()).toEqual([]);
    simulator.startPlays();
    await expect.poll(() => new Set(plays().map((r) => r.token)).size, { timeout: 5000 }).toBe(4);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const events = plays().flatMap(({ token, request }) =>
      request.message.case === "playEvents" ? request.message.value.events.map((event) => ({ token, event })) : [],
    );
    expect(new Set(events.map(({ event }) => event.eventId)).size).toBe(events.length);
    // Batches keep coming: the count includes any still on their way.
    expect(simulator.stats().playEventsSent).toBeGreaterThanOrEqual(events.length);
    for (const token of new Set(events.map((e) => e.token))) {
      const mine = events.filter((e) => e.token === token).map((e) => e.event);
      for (const [n, event] of mine.entries()) {
        const started = Number(event.startedAt?.seconds) * 1000 + (event.startedAt?.nanos ?? 0) / 1e6;
        const ended = Number(event.endedAt?.seconds) * 1000 + (event.endedAt?.nanos ?? 0) / 1e6;
        expect(ended - started).toBe(50);
        const next = mine[n + 1];
        if (next) expect(Number(next.startedAt?.seconds) * 1000 + (next.startedAt?.nanos ?? 0) / 1e6).toBe(ended);
        expect(clips.map((clip) => clip.videoId)).toContain(event.videoId);
      }
    }
  });

  it("counts each screen's plays, and sends none after stopPlays", async () => {
    simulator.stopPlays();
    const receivedBy = () => {
      const counts = new Map<string, number>();
      for (const { token, request } of plane.received) {
        if (request.message.case !== "playEvents") continue;
        counts.set(token, (counts.get(token) ?? 0) + request.message.value.events.length);
      }
      return counts;
    };
    // What each screen says it sent is what reached the server, once the last batches have arrived.
    const sentBy = () => new Map(simulator.screens.map((s) => [`token-${s.hardwareId}`, s.playEventsSent]));
    await expect.poll(receivedBy, { timeout: 3000 }).toEqual(sentBy());
    expect([...sentBy().values()].reduce((a, b) => a + b, 0)).toBe(simulator.stats().playEventsSent);
    expect(Math.min(...sentBy().values())).toBeGreaterThan(0);
    // Several batch intervals later, nothing more was sent or counted.
    const stoppedAt = simulator.stats().playEventsSent;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(simulator.stats().playEventsSent).toBe(stoppedAt);
    expect(receivedBy()).toEqual(sentBy());
  });
});
