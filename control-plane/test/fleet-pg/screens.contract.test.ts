import { randomUUID } from "node:crypto";
import { PlayEventSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { HealthSchema } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import {
  DayOfWeek,
  DesiredStateSchema,
  DisplayHoursSchema,
  Orientation,
} from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ScreenEdit, ScreenRecord } from "../../src/fleet/fleet/index.ts";
import {
  at,
  commandRecord,
  type StoreHarness,
  screenRecord,
  storeImplementations,
  uniqueViolationOf,
} from "./store-contract.ts";

/**
 * The contract of ScreenStore (all but `page` and `getMany`, which screen-list.test.ts checks the
 * same way) and GroupStore, over the in-memory fakes and the PostgreSQL stores alike.
 */
describe.each(storeImplementations)("fleet screen stores %s", (_kind, open) => {
  let h: StoreHarness;
  let tenant: string;
  let other: string;

  beforeAll(async () => {
    h = await open();
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    tenant = await h.tenant();
    other = await h.tenant();
  });

  const lunchHours = () => [
    create(DisplayHoursSchema, {
      daysOfWeek: [DayOfWeek.MONDAY, DayOfWeek.TUESDAY],
      window: { startMinute: 480, endMinute: 1200 },
    }),
  ];
  /** What `get` reads back of a created screen: its tags sorted, as the table returns them. */
  const readBack = (screen: ScreenRecord): ScreenRecord => ({ ...screen, tags: [...screen.tags].sort() });

  describe("ScreenStore", () => {
    it("creates a screen and reads it back whole by id, token hash and hardware id, in its tenant only", async () => {
      const groupId = await h.group(tenant);
      const screen = screenRecord(tenant, {
        name: "Lobby",
        groupId,
        tags: ["menu", "lobby"],
        timezone: "Europe/Berlin",
        volumePercent: 40,
        orientation: Orientation.PORTRAIT,
        displayHours: lunchHours(),
        model: "Raspberry Pi 5",
        osVersion: "12",
        playerVersion: "1.4.0",
        firstSeenAt: at(-60),
        claimedAt: at(),
        tokenHash: "a".repeat(64),
        revision: 3,
      });
      await h.stores.screens.create(screen);
      expect(await h.stores.screens.get(tenant, screen.id)).toEqual(readBack(screen));
      expect(await h.stores.screens.findByTokenHash(screen.tokenHash ?? "")).toEqual(readBack(screen));
      expect(await h.stores.screens.findByHardwareId(tenant, screen.hardwareId)).toEqual(readBack(screen));
      // Another tenant's id, an unknown id and a malformed id are all "not found".
      expect(await h.stores.screens.get(other, screen.id)).toBeUndefined();
      expect(await h.stores.screens.findByHardwareId(other, screen.hardwareId)).toBeUndefined();
      expect(await h.stores.screens.get(tenant, randomUUID())).toBeUndefined();
      expect(await h.stores.screens.get(tenant, "not-a-uuid")).toBeUndefined();
      expect(await h.stores.screens.get("not-a-uuid", screen.id)).toBeUndefined();
      expect(await h.stores.screens.findByTokenHash("b".repeat(64))).toBeUndefined();
      expect(await h.stores.screens.findByHardwareId(tenant, "no-such-board")).toBeUndefined();
    });

    it("refuses a second screen with the same id, token hash or hardware id in the tenant; another tenant may reuse the hardware id", async () => {
      const first = screenRecord(tenant, { hardwareId: "pi-1", tokenHash: "c".repeat(64) });
      await h.stores.screens.create(first);
      await expect(h.stores.screens.create(screenRecord(tenant, { hardwareId: "pi-1" }))).rejects.toMatchObject(
        uniqueViolationOf("screens_tenant_id_hardware_id_unique"),
      );
      await expect(h.stores.screens.create(screenRecord(tenant, { tokenHash: first.tokenHash }))).rejects.toMatchObject(
        uniqueViolationOf("screens_token_hash_unique"),
      );
      await expect(h.stores.screens.create(screenRecord(tenant, { id: first.id }))).rejects.toMatchObject(
        uniqueViolationOf("screens_pkey"),
      );
      // A repeated tag violates screen_tags (screen_id, tag); the screen is not created.
      const twiceTagged = screenRecord(tenant, { tags: ["menu", "menu"] });
      await expect(h.stores.screens.create(twiceTagged)).rejects.toMatchObject(
        uniqueViolationOf("screen_tags_screen_id_tag_unique"),
      );
      expect(await h.stores.screens.get(tenant, twiceTagged.id)).toBeUndefined();
      // The refused creates changed nothing.
      expect(await h.stores.screens.findByHardwareId(tenant, "pi-1")).toEqual(first);
      expect(await h.stores.screens.findByTokenHash(first.tokenHash ?? "")).toEqual(first);
      const theirs = screenRecord(other, { hardwareId: "pi-1" });
      await h.stores.screens.create(theirs);
      expect(await h.stores.screens.findByHardwareId(other, "pi-1")).toEqual(theirs);
      expect(await h.stores.screens.findByHardwareId(tenant, "pi-1")).toEqual(first);
    });

    it("shares no object with its callers: changing a record passed in or handed out changes nothing stored", async () => {
      const screen = screenRecord(tenant, { name: "Kitchen", tags: ["menu"], displayHours: lunchHours() });
      await h.stores.screens.create(screen);
      const stored = structuredClone(screen);
      screen.name = "renamed by the caller";
      screen.tags.push("extra");
      screen.firstSeenAt.setTime(0);
      const got = await h.stores.screens.get(tenant, screen.id);
      if (!got) throw new Error("screen not found");
      got.tags.push("extra");
      got.displayHours.length = 0;
      expect(await h.stores.screens.get(tenant, screen.id)).toEqual(stored);
      const edit: ScreenEdit = { ...stored, tags: ["lobby"], displayHours: [] };
      const updated = await h.stores.screens.update(tenant, screen.id, 1, edit);
      edit.tags.push("extra");
      expect(updated).toMatchObject({ tags: ["lobby"], revision: 2 });
      expect((await h.stores.screens.get(tenant, screen.id))?.tags).toEqual(["lobby"]);
    });

    it("lists the tenant's screens by name, then id, and never another tenant's", async () => {
      const [lobby, atriumOne, kitchen, atriumTwo] = ["lobby", "atrium", "kitchen", "atrium"].map((name) =>
        screenRecord(tenant, { name }),
      );
      if (!lobby || !atriumOne || !kitchen || !atriumTwo) throw new Error("no screens");
      for (const screen of [lobby, atriumOne, kitchen, atriumTwo]) await h.stores.screens.create(screen);
      await h.stores.screens.create(screenRecord(other, { name: "assembly hall" }));
      const atriums = [atriumOne, atriumTwo].sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(await h.stores.screens.list(tenant)).toEqual([...atriums, kitchen, lobby]);
      expect(await h.stores.screens.list(await h.tenant())).toEqual([]);
      expect(await h.stores.screens.list("not-a-uuid")).toEqual([]);
    });

    it("sets, replaces and clears the token hash in the tenant only; a hash another screen holds is refused", async () => {
      const screen = screenRecord(tenant, { tokenHash: "1".repeat(64) });
      const neighbour = screenRecord(tenant, { tokenHash: "2".repeat(64) });
      await h.stores.screens.create(screen);
      await h.stores.screens.create(neighbour);
      expect(await h.stores.screens.setTokenHash(tenant, screen.id, "3".repeat(64))).toBe(true);
      expect(await h.stores.screens.findByTokenHash("1".repeat(64))).toBeUndefined();
      expect((await h.stores.screens.findByTokenHash("3".repeat(64)))?.id).toBe(screen.id);
      // Setting the hash a screen already has is no conflict with itself.
      expect(await h.stores.screens.setTokenHash(tenant, screen.id, "3".repeat(64))).toBe(true);
      await expect(h.stores.screens.setTokenHash(tenant, screen.id, "2".repeat(64))).rejects.toMatchObject(
        uniqueViolationOf("screens_token_hash_unique"),
      );
      expect((await h.stores.screens.findByTokenHash("2".repeat(64)))?.id).toBe(neighbour.id);
      expect((await h.stores.screens.get(tenant, screen.id))?.tokenHash).toBe("3".repeat(64));
      expect(await h.stores.screens.setTokenHash(other, screen.id, "4".repeat(64))).toBe(false);
      expect(await h.stores.screens.setTokenHash(tenant, randomUUID(), "4".repeat(64))).toBe(false);
      expect(await h.stores.screens.setTokenHash(tenant, "not-a-uuid", "4".repeat(64))).toBe(false);
      expect(await h.stores.screens.findByTokenHash("4".repeat(64))).toBeUndefined();
      // Revoking clears it; the hash is then free for another screen.
      expect(await h.stores.screens.setTokenHash(tenant, screen.id, undefined)).toBe(true);
      expect((await h.stores.screens.get(tenant, screen.id))?.tokenHash).toBeUndefined();
      expect(await h.stores.screens.findByTokenHash("3".repeat(64))).toBeUndefined();
      expect(await h.stores.screens.setTokenHash(tenant, neighbour.id, "3".repeat(64))).toBe(true);
    });

    it("applies an edit only at the expected revision and bumps it: stale or not-found otherwise", async () => {
      const screen = screenRecord(tenant, { name: "Hall", tags: ["old"], tokenHash: "5".repeat(64) });
      await h.stores.screens.create(screen);
      const groupId = await h.group(tenant);
      const edit: ScreenEdit = {
        name: "Main hall",
        groupId,
        tags: ["upstairs", "menu"],
        timezone: "America/New_York",
        volumePercent: 0,
        orientation: Orientation.LANDSCAPE_FLIPPED,
        displayHours: lunchHours(),
      };
      const updated = await h.stores.screens.update(tenant, screen.id, 1, edit);
      const expected = { ...screen, ...edit, tags: ["menu", "upstairs"], revision: 2 };
      expect(updated).toEqual(expected);
      expect(await h.stores.screens.get(tenant, screen.id)).toEqual(expected);
      // The revision is the optimistic lock: a second writer holding revision 1 loses.
      expect(await h.stores.screens.update(tenant, screen.id, 1, { ...edit, name: "lost" })).toBe("stale");
      expect(await h.stores.screens.update(other, screen.id, 2, edit)).toBe("not-found");
      expect(await h.stores.screens.update(tenant, randomUUID(), 2, edit)).toBe("not-found");
      expect(await h.stores.screens.update(tenant, "not-a-uuid", 2, edit)).toBe("not-found");
      // A refused edit (a repeated tag) is undone whole: revision and fields stay.
      await expect(
        h.stores.screens.update(tenant, screen.id, 2, { ...edit, name: "bad", tags: ["x", "x"] }),
      ).rejects.toMatchObject(uniqueViolationOf("screen_tags_screen_id_tag_unique"));
      expect(await h.stores.screens.get(tenant, screen.id)).toEqual(expected);
      // "" takes the screen out of its group.
      expect(await h.stores.screens.update(tenant, screen.id, 2, { ...edit, groupId: "", tags: [] })).toMatchObject({
        groupId: "",
        tags: [],
        revision: 3,
      });
    });

    it("records the versions a player reports; an unknown screen is ignored", async () => {
      const screen = screenRecord(tenant, { playerVersion: "1.0.0", osVersion: "11" });
      await h.stores.screens.create(screen);
      await h.stores.screens.updateVersions(screen.id, { playerVersion: "1.1.0", osVersion: "12" });
      expect(await h.stores.screens.get(tenant, screen.id)).toEqual({
        ...screen,
        playerVersion: "1.1.0",
        osVersion: "12",
      });
      await expect(
        h.stores.screens.updateVersions(randomUUID(), { playerVersion: "9", osVersion: "9" }),
      ).resolves.toBeUndefined();
    });

    it("deletes a screen in its tenant with what hangs off it, and frees its hardware id and token hash", async () => {
      const screen = screenRecord(tenant, { tokenHash: "6".repeat(64) });
      await h.stores.screens.create(screen);
      const command = commandRecord(tenant, screen.id);
      await h.stores.commands.insert([command]);
      await h.stores.screenshots.save(command.id, new Uint8Array([1, 2, 3]), at());
      await h.stores.statuses.patch(screen.id, { streamOpen: true });
      await h.stores.health.append(screen.id, { at: at(), health: create(HealthSchema, { cpuLoadPercent: 5 }) });
      const startedAt = timestampFromDate(at());
      const events = [
        create(PlayEventSchema, { eventId: "e-1", startedAt }),
        create(PlayEventSchema, { eventId: "e-2", startedAt }),
      ];
      expect(await h.stores.playEvents.insertMany(tenant, screen.id, events)).toBe(2);
      const document = create(DesiredStateSchema, { screenId: screen.id, version: 1n, contentHash: "h1" });
      await h.stores.desiredStates.insertMany([
        { screenId: screen.id, version: 1n, contentHash: "h1", document: toBinary(DesiredStateSchema, document) },
      ]);
      await h.settle();

      expect(await h.stores.screens.delete(other, screen.id)).toBe(false);
      expect(await h.stores.screens.get(tenant, screen.id)).toEqual(screen);
      expect(await h.stores.screens.delete(tenant, randomUUID())).toBe(false);
      expect(await h.stores.screens.delete(tenant, "not-a-uuid")).toBe(false);

      expect(await h.stores.screens.delete(tenant, screen.id)).toBe(true);
      expect(await h.stores.screens.get(tenant, screen.id)).toBeUndefined();
      expect(await h.stores.screens.findByTokenHash("6".repeat(64))).toBeUndefined();
      expect(await h.stores.screens.findByHardwareId(tenant, screen.hardwareId)).toBeUndefined();
      expect(await h.stores.statuses.get(screen.id)).toBeUndefined();
      expect(await h.stores.commands.get(tenant, command.id)).toBeUndefined();
      expect(await h.stores.screenshots.get(command.id)).toBeUndefined();
      expect(await h.stores.health.range(screen.id, at(-1), at(1))).toEqual([]);
      expect(await h.stores.desiredStates.latest(screen.id)).toBeUndefined();
      expect(await h.stores.screens.delete(tenant, screen.id)).toBe(false);
      // The same screen enrolled again starts from nothing: its old play events are gone too.
      await h.stores.screens.create(screen);
      expect(await h.stores.playEvents.insertMany(tenant, screen.id, events)).toBe(2);
    });
  });

  describe("GroupStore", () => {
    it("creates groups with names unique per tenant (case counts) and reads them in their tenant only", async () => {
      const lobby = { id: randomUUID(), tenantId: tenant, name: "lobby" };
      expect(await h.stores.groups.create(lobby)).toBe(true);
      expect(await h.stores.groups.create({ ...lobby, id: randomUUID() })).toBe(false);
      expect(await h.stores.groups.create({ ...lobby, name: "another name" })).toBe(false);
      expect(await h.stores.groups.create({ id: randomUUID(), tenantId: tenant, name: "Lobby" })).toBe(true);
      expect(await h.stores.groups.create({ id: randomUUID(), tenantId: other, name: "lobby" })).toBe(true);
      expect(await h.stores.groups.get(tenant, lobby.id)).toEqual(lobby);
      expect(await h.stores.groups.get(other, lobby.id)).toBeUndefined();
      expect(await h.stores.groups.get(tenant, randomUUID())).toBeUndefined();
      expect(await h.stores.groups.get(tenant, "not-a-uuid")).toBeUndefined();
    });

    it("lists the tenant's groups by name with how many screens each holds", async () => {
      const [north, east, south] = [
        await h.group(tenant, "north"),
        await h.group(tenant, "east"),
        await h.group(tenant, "south"),
      ];
      const theirs = await h.group(other, "west");
      for (const groupId of [north, north, east]) await h.stores.screens.create(screenRecord(tenant, { groupId }));
      await h.stores.screens.create(screenRecord(other, { groupId: theirs }));
      expect(await h.stores.groups.list(tenant)).toEqual([
        { id: east, tenantId: tenant, name: "east", screenCount: 1 },
        { id: north, tenantId: tenant, name: "north", screenCount: 2 },
        { id: south, tenantId: tenant, name: "south", screenCount: 0 },
      ]);
      expect(await h.stores.groups.list(await h.tenant())).toEqual([]);
      expect(await h.stores.groups.list("not-a-uuid")).toEqual([]);
    });

    it("deletes a group only while it holds no screen; another tenant's or an unknown group is not found", async () => {
      const groupId = await h.group(tenant, "busy");
      const screen = screenRecord(tenant, { groupId });
      await h.stores.screens.create(screen);
      expect(await h.stores.groups.delete(tenant, groupId)).toBe("not-empty");
      expect(await h.stores.groups.delete(other, groupId)).toBe("not-found");
      expect(await h.stores.groups.delete(tenant, randomUUID())).toBe("not-found");
      expect(await h.stores.groups.delete(tenant, "not-a-uuid")).toBe("not-found");
      expect(await h.stores.groups.get(tenant, groupId)).toEqual({ id: groupId, tenantId: tenant, name: "busy" });
      await h.stores.screens.update(tenant, screen.id, 1, { ...screen, groupId: "" });
      expect(await h.stores.groups.delete(tenant, groupId)).toBe("deleted");
      expect(await h.stores.groups.get(tenant, groupId)).toBeUndefined();
      expect(await h.stores.groups.delete(tenant, groupId)).toBe("not-found");
    });
  });
});
