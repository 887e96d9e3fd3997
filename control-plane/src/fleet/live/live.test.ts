import { ConnectResponseSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SessionRegistry } from "./session-registry.ts";

async function drain<T>(queue: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of queue) items.push(item);
  return items;
}

describe("SessionRegistry", () => {
  const message = create(ConnectResponseSchema, {
    message: { case: "config", value: { heartbeatIntervalSeconds: 15 } },
  });

  it("keeps one stream per screen: a second connection ends the first with ABORTED", async () => {
    const registry = new SessionRegistry();
    const first = registry.attach("s1", "t1");
    const firstDrained = drain(first.session.outbox);
    const second = registry.attach("s1", "t1");
    await expect(firstDrained).rejects.toSatisfy((e) => e instanceof ConnectError && e.code === Code.Aborted);
    first.detach(); // the old stream's cleanup must not remove the new one
    expect(registry.holds("s1")).toBe(true);
    expect(registry.send("s1", message)).toBe(true);
    expect(second.session.outbox.size).toBe(1);
  });

  it("disconnects a revoked screen at once and reports screens it does not hold", async () => {
    const registry = new SessionRegistry();
    const { session } = registry.attach("s1", "t1");
    const drained = drain(session.outbox);
    expect(registry.disconnect("s1", new ConnectError("device token revoked", Code.Unauthenticated))).toBe(true);
    await expect(drained).rejects.toThrow("device token revoked");
    expect(registry.send("s1", message)).toBe(false);
    expect(registry.size).toBe(0);
  });
});
