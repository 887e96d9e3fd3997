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
