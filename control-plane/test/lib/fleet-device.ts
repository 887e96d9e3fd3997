import { AsyncQueue } from "@avtech/io";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  type ConnectResponse,
  type DeviceCredentials,
  type DeviceService,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { FleetStores } from "../../src/fleet/fleet/index.ts";
import type { FleetTestServer } from "./fleet-server.ts";

/** A test screen's open stream: send messages, await the next server message, or hang up. */
export interface TestStream {
  send(message: MessageInitShape<typeof ConnectRequestSchema>["message"]): void;
  /** The next server message (rejects with the stream's error, or when it ends first). */
  next(timeoutMs?: number): Promise<ConnectResponse>;
  /** Resolves with the error that ended the stream (undefined for a clean end). */
  ended: Promise<unknown>;
  hangUp(): void;
}

/** Opens DeviceService.Connect with `token` and sends Hello. */
export function openStream(
  client: Client<typeof DeviceService>,
  token: string,
  hello: { appliedVersion?: bigint } = {},
): TestStream {
  const outbox = new AsyncQueue<ConnectRequest>();
  const abort = new AbortController();
  const received: ConnectResponse[] = [];
  let wake: (() => void) | undefined;
  let failure: { error: unknown } | undefined;
  outbox.push(
    create(ConnectRequestSchema, {
      message: { case: "hello", value: { playerVersion: "1.0.0-test", appliedVersion: hello.appliedVersion ?? 0n } },
    }),
  );
  const ended = (async () => {
    try {
      for await (const response of client.connect(outbox, {
        signal: abort.signal,
        headers: { authorization: `Bearer ${token}` },
      })) {
        received.push(response);
        wake?.();
      }
      failure = { error: new Error("stream ended") };
      return undefined;
    } catch (error) {
      failure = { error };
      return error;
    } finally {
      wake?.();
    }
  })();
  return {
    send: (message) => outbox.push(create(ConnectRequestSchema, { message })),
    next: async (timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (received.length === 0) {
        if (failure) throw failure.error;
        if (Date.now() > deadline) throw new Error(`no server message within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return received.shift() as ConnectResponse;
    },
    ended,
    hangUp: () => {
      outbox.close();
      abort.abort();
    },
  };
}

/** Creates an enrollment key for `tenant` and enrolls a screen with it; returns its credentials. */
export async function enrollScreen(
  server: Pick<FleetTestServer<FleetStores>, "fleet" | "device">,
  hardwareId: string,
  tenant = "tenant-a",
): Promise<DeviceCredentials> {
  const { enrollmentKey } = await server.fleet(tenant).createEnrollmentKey({ name: "test site" });
  const response = await server.device().register({ hardwareId, enrollmentKey, facts: { hostname: hardwareId } });
  if (response.outcome.case !== "enrolled") throw new Error("expected enrollment");
  return response.outcome.value;
}

/** Polls `check` until it returns true. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
