import { ConnectResponseSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SessionRegistry } from "../live/index.ts";
import type { LiveDeliveryDeps } from "./delivery.ts";
import { LiveDelivery } from "./delivery.ts";

/** offer() touches only the registry; the stores are there for deliver(). */
function deliveryOn(registry: SessionRegistry): LiveDelivery {
  const unused = {} as Omit<LiveDeliveryDeps, "registry">;
  return new LiveDelivery({ ...unused, registry });
}

describe("LiveDelivery.offer", () => {
  it("sends the stored bytes as a desired state the screen decodes, for small and large documents", async () => {
    for (const nameLength of [10, 200, 70_000]) {
      const registry = new SessionRegistry();
      const { session } = registry.attach("screen-1", "tenant-1");
      const delivery = deliveryOn(registry);
      delivery.attached("screen-1", { tenantId: "tenant-1", tokenHash: "h", sentVersion: 1n });
      const document = create(DesiredStateSchema, {
        screenId: "screen-1",
        version: 2n,
        contentHash: "c".repeat(64),
        settings: { screenName: "x".repeat(nameLength) },
      });
      expect(delivery.offer("screen-1", 2n, toBinary(DesiredStateSchema, document))).toBe(true);
      session.outbox.close();
      const sent = [];
      for await (const message of session.outbox) sent.push(message);
      expect(sent).toHaveLength(1);
      const received = fromBinary(
        ConnectResponseSchema,
        toBinary(ConnectResponseSchema, sent[0] ?? create(ConnectResponseSchema)),
      );
      expect(received.message.case).toBe("desiredState");
      expect(received.message.value).toEqual(document);
    }
  });

  it("sends a version once, and never an older one", () => {
    const registry = new SessionRegistry();
    const { session } = registry.attach("screen-1", "tenant-1");
    const delivery = deliveryOn(registry);
    delivery.attached("screen-1", { tenantId: "tenant-1", tokenHash: "h", sentVersion: 1n });
    const bytes = toBinary(DesiredStateSchema, create(DesiredStateSchema, { screenId: "screen-1", version: 3n }));
    expect(delivery.offer("screen-1", 3n, bytes)).toBe(true);
    expect(delivery.offer("screen-1", 3n, bytes)).toBe(false);
    expect(delivery.offer("screen-1", 2n, bytes)).toBe(false);
    expect(delivery.offer("screen-2", 3n, bytes)).toBe(false);
    expect(session.outbox.size).toBe(1);
  });
});
