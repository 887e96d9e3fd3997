import { CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { type ConnectResponse, ConnectResponseSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { deliveryBatchSize, LiveDelivery } from "../../src/fleet/device/index.ts";
import type { CommandStore, DesiredStateStore, ScreenStore } from "../../src/fleet/fleet/index.ts";
import { type ScreenSession, SessionRegistry } from "../../src/fleet/live/index.ts";
import { at, commandRecord, screenRecord } from "../fleet-pg/store-contract.ts";
import { createMemoryFleetStores } from "../lib/fleet-memory-stores.ts";

const tenants = ["00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"];

/** Messages queued on a session so far (closes it). */
async function drained(session: ScreenSession): Promise<ConnectResponse[]> {
  session.outbox.close();
  const messages: ConnectResponse[] = [];
  for await (const message of session.outbox) messages.push(message);
  return messages;
}

/** A fleet of held streams over in-memory stores, counting the store reads delivery makes. */
async function fleetOf(count: number) {
  const stores = createMemoryFleetStores();
  const reads = { screens: 0, desiredStates: 0, commands: 0 };
  const screens: Pick<ScreenStore, "getMany"> = {
    getMany: (tenantId, ids) => {
      reads.screens++;
      return stores.screens.getMany(tenantId, ids);
    },
  };
  const desiredStates: Pick<DesiredStateStore, "newerThan"> = {
    newerThan: (sent) => {
      reads.desiredStates++;
      return stores.desiredStates.newerThan(sent);
    },
  };
  const commands: Pick<CommandStore, "queuedMany" | "update"> = {
    queuedMany: (ids) => {
      reads.commands++;
      return stores.commands.queuedMany(ids);
    },
    update: (screenId, id, patch) => stores.commands.update(screenId, id, patch),
  };
  const registry = new SessionRegistry();
  const delivery = new LiveDelivery({ registry, screens, desiredStates, commands, clock: { now: () => at(30) } });
  const held: { id: string; tenantId: string; session: ScreenSession }[] = [];
  for (let n = 0; n < count; n++) {
    const tenantId = tenants[n % 2] ?? "";
    const screen = screenRecord(tenantId, { tokenHash: `token-${n}` });
    await stores.screens.create(screen);
    const { session } = registry.attach(screen.id, tenantId);
    delivery.attached(screen.id, { tenantId, tokenHash: `token-${n}`, sentVersion: 1n });
    held.push({ id: screen.id, tenantId, session });
  }
  return { stores, reads, registry, delivery, held };
}

/** The message as the screen decodes it (an offered document is sent as pre-encoded bytes). */
const decoded = (message: ConnectResponse) =>
  fromBinary(ConnectResponseSchema, toBinary(ConnectResponseSchema, message));

const documentOf = (screenId: string, version: bigint) =>
  toBinary(DesiredStateSchema, create(DesiredStateSchema, { screenId, version }));

describe("LiveDelivery.deliver in batches", () => {
  it("reads a woken fleet in a few queries per batch and sends each screen what it lacks, once", async () => {
    const count = deliveryBatchSize * 2 + 200;
    const { stores, reads, registry, delivery, held } = await fleetOf(count);
    const [revoked, withCommands] = [held[0], held[3]];
    if (!revoked || !withCommands) throw new Error("fleet too small");
    // Version 1 everywhere (what the streams have); version 2 for every other screen.
    await stores.desiredStates.insertMany(
      held.map(({ id }) => ({ screenId: id, version: 1n, contentHash: "h1", document: documentOf(id, 1n) })),
    );
    const behindIds = held.filter((_, n) => n % 2 === 0).map(({ id }) => id);
    await stores.desiredStates.insertMany(
      behindIds.map((id) => ({ screenId: id, version: 2n, contentHash: "h2", document: documentOf(id, 2n) })),
    );
    await stores.screens.setTokenHash(revoked.tenantId, revoked.id, "a-new-token");
    const expired = commandRecord(withCommands.tenantId, withCommands.id, { issuedAt: at(-120) });
    const fresh = commandRecord(withCommands.tenantId, withCommands.id, { issuedAt: at(10) });
    await stores.commands.insert([fresh, expired]);

    // Two wake-ups of the same screens at once (publish and LISTEN/NOTIFY): one screen's runs never overlap.
    await Promise.all([delivery.deliver(held.map(({ id }) => id)), delivery.deliver(held.map(({ id }) => id))]);

    const batches = Math.ceil(count / deliveryBatchSize);
    expect(reads).toEqual({ screens: batches * 2 * 2, desiredStates: batches * 2, commands: batches * 2 });
    expect(registry.holds(revoked.id)).toBe(false);
    expect(delivery.holds(revoked.id)).toBe(false);
    await expect(drained(revoked.session)).rejects.toThrow(/device token revoked/);

    for (const [n, { id, session }] of held.entries()) {
      if (id === revoked.id) continue;
      const sent = (await drained(session)).map(decoded);
      const states = sent.flatMap((m) => (m.message.case === "desiredState" ? [m.message.value.version] : []));
      const commandIds = sent.flatMap((m) => (m.message.case === "command" ? [m.message.value.commandId] : []));
      expect(states, `screen ${n}`).toEqual(n % 2 === 0 ? [2n] : []);
      expect(commandIds, `screen ${n}`).toEqual(id === withCommands.id ? [fresh.id] : []);
    }
    expect((await stores.commands.get(withCommands.tenantId, expired.id))?.status).toBe(CommandStatus.EXPIRED);
    expect((await stores.commands.get(withCommands.tenantId, fresh.id))?.status).toBe(CommandStatus.DELIVERED);
  });

  it("skips screens it does not hold without reading anything", async () => {
    const { reads, delivery } = await fleetOf(2);
    await delivery.deliver(["00000000-0000-4000-8000-000000000123"]);
    expect(reads).toEqual({ screens: 0, desiredStates: 0, commands: 0 });
  });
});
