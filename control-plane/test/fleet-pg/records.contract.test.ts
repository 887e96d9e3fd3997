import { randomUUID } from "node:crypto";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { PlayEventSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { HealthSchema } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CommandRecord, HealthSample } from "../../src/fleet/fleet/index.ts";
import {
  at,
  commandRecord,
  type StoreHarness,
  screenRecord,
  storeImplementations,
  uniqueViolationOf,
} from "./store-contract.ts";

/**
 * The contract of CommandStore (commands expire but stay listed: the caller expires them),
 * ScreenshotStore, HealthStore, PlayEventStore and AssetCatalog, over the in-memory fakes and the
 * PostgreSQL stores. CommandStore.getMany is checked in screen-list.test.ts.
 */
describe.each(storeImplementations)("fleet record stores %s", (_kind, open) => {
  let h: StoreHarness;
  let tenant: string;
  let other: string;
  /** A screen of the tenant, and one of the other tenant. */
  let screen: string;
  let theirScreen: string;

  beforeAll(async () => {
    h = await open();
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    tenant = await h.tenant();
    other = await h.tenant();
    const [mine, theirs] = [screenRecord(tenant), screenRecord(other)];
    await h.stores.screens.create(mine);
    await h.stores.screens.create(theirs);
    screen = mine.id;
    theirScreen = theirs.id;
  });
  const byId = (a: CommandRecord, b: CommandRecord) => (a.id < b.id ? -1 : 1);

  describe("CommandStore", () => {
    it("stores commands whole and reads them by id in their tenant only", async () => {
      const reboot = commandRecord(tenant, screen, {
        kind: CommandKind.REBOOT,
        identifySeconds: 0,
        status: CommandStatus.FAILED,
        resultMessage: "refused",
        completedAt: at(5),
        hasScreenshot: true,
      });
      const theirs = commandRecord(other, theirScreen);
      await h.stores.commands.insert([reboot, theirs]);
      await h.stores.commands.insert([]);
      expect(await h.stores.commands.get(tenant, reboot.id)).toEqual(reboot);
      expect(await h.stores.commands.get(other, theirs.id)).toEqual(theirs);
      expect(await h.stores.commands.get(tenant, theirs.id)).toBeUndefined();
      expect(await h.stores.commands.get(tenant, randomUUID())).toBeUndefined();
      expect(await h.stores.commands.get(tenant, "not-a-uuid")).toBeUndefined();
    });

    it("refuses a batch holding an id already stored, and stores none of it", async () => {
      const first = commandRecord(tenant, screen);
      await h.stores.commands.insert([first]);
      const fresh = commandRecord(tenant, screen);
      await expect(h.stores.commands.insert([fresh, { ...first, resultMessage: "twin" }])).rejects.toMatchObject(
        uniqueViolationOf("commands_pkey"),
      );
      expect(await h.stores.commands.get(tenant, fresh.id)).toBeUndefined();
      expect(await h.stores.commands.get(tenant, first.id)).toEqual(first);
    });

    it("lists each screen's QUEUED commands oldest first, then by id, expired ones included, in one read", async () => {
      const expired = commandRecord(tenant, screen, { issuedAt: at(-3600) });
      const twins = [
        commandRecord(tenant, screen, { issuedAt: at(10) }),
        commandRecord(tenant, screen, { issuedAt: at(10) }),
      ];
      const newest = commandRecord(tenant, screen, { issuedAt: at(20) });
      const done = commandRecord(tenant, screen, { issuedAt: at(0), status: CommandStatus.SUCCEEDED });
      const delivered = commandRecord(tenant, screen, { issuedAt: at(1), status: CommandStatus.DELIVERED });
      const elsewhere = commandRecord(other, theirScreen, { issuedAt: at(5) });
      await h.stores.commands.insert([newest, ...twins, done, elsewhere, delivered, expired]);
      expect(await h.stores.commands.queuedMany([screen, theirScreen, randomUUID(), "not-a-uuid"])).toEqual(
        new Map([
          [screen, [expired, ...[...twins].sort(byId), newest]],
          [theirScreen, [elsewhere]],
        ]),
      );
      expect(await h.stores.commands.queuedMany([randomUUID(), "not-a-uuid"])).toEqual(new Map());
      expect(await h.stores.commands.queuedMany([])).toEqual(new Map());
    });

    it("updates status and result by screen and id; another screen's or an unknown command is not found", async () => {
      const command = commandRecord(tenant, screen, { kind: CommandKind.SCREENSHOT });
      await h.stores.commands.insert([command]);
      const outcome = {
        status: CommandStatus.SUCCEEDED,
        resultMessage: "ok",
        completedAt: at(3),
        hasScreenshot: true,
      };
      expect(await h.stores.commands.update(screen, command.id, outcome)).toBe(true);
      expect(await h.stores.commands.get(tenant, command.id)).toEqual({ ...command, ...outcome });
      expect(await h.stores.commands.queuedMany([screen])).toEqual(new Map());
      expect(await h.stores.commands.update(theirScreen, command.id, { resultMessage: "theirs" })).toBe(false);
      expect(await h.stores.commands.update(screen, randomUUID(), { resultMessage: "nobody" })).toBe(false);
      expect(await h.stores.commands.update(screen, "not-a-uuid", { resultMessage: "nobody" })).toBe(false);
      // An empty patch only says whether the command exists; undefined clears a field.
      expect(await h.stores.commands.update(screen, command.id, {})).toBe(true);
      expect(await h.stores.commands.update(screen, randomUUID(), {})).toBe(false);
      expect(await h.stores.commands.update(screen, command.id, { completedAt: undefined })).toBe(true);
      expect(await h.stores.commands.get(tenant, command.id)).toEqual({
        ...command,
        ...outcome,
        completedAt: undefined,
      });
    });

    it("keeps a screen's result when the sender records DELIVERED after it (a fast screen answers first)", async () => {
      const command = commandRecord(tenant, screen, { kind: CommandKind.RESYNC });
      await h.stores.commands.insert([command]);
      const result = { status: CommandStatus.SUCCEEDED, resultMessage: "resynced", completedAt: at(3) };
      expect(await h.stores.commands.update(screen, command.id, result)).toBe(true);
      expect(await h.stores.commands.update(screen, command.id, { status: CommandStatus.DELIVERED })).toBe(true);
      expect(await h.stores.commands.get(tenant, command.id)).toEqual({ ...command, ...result });
      const queued = commandRecord(tenant, screen, { kind: CommandKind.RESYNC });
      await h.stores.commands.insert([queued]);
      expect(await h.stores.commands.update(screen, queued.id, { status: CommandStatus.DELIVERED })).toBe(true);
      expect((await h.stores.commands.get(tenant, queued.id))?.status).toBe(CommandStatus.DELIVERED);
    });

    it("lists a screen's commands newest first, then by id, up to the limit, in the tenant only", async () => {
      const twins = [
        commandRecord(tenant, screen, { issuedAt: at(10) }),
        commandRecord(tenant, screen, { issuedAt: at(10) }),
      ];
      const oldest = commandRecord(tenant, screen, { issuedAt: at(0), status: CommandStatus.SUCCEEDED });
      const newest = commandRecord(tenant, screen, { issuedAt: at(20), status: CommandStatus.FAILED });
      await h.stores.commands.insert([oldest, ...twins, newest, commandRecord(other, theirScreen)]);
      const all = [newest, ...[...twins].sort(byId), oldest];
      expect(await h.stores.commands.list(tenant, screen, 10)).toEqual(all);
      expect(await h.stores.commands.list(tenant, screen, 2)).toEqual(all.slice(0, 2));
      expect(await h.stores.commands.list(tenant, screen, 0)).toEqual([]);
      expect(await h.stores.commands.list(other, screen, 10)).toEqual([]);
      expect(await h.stores.commands.list(tenant, "not-a-uuid", 10)).toEqual([]);
    });
  });

  describe("ScreenshotStore", () => {
    it("keeps one screenshot per command (a save replaces it) and shares no bytes with callers", async () => {
      const command = commandRecord(tenant, screen, { kind: CommandKind.SCREENSHOT });
      await h.stores.commands.insert([command]);
      const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1]);
      await h.stores.screenshots.save(command.id, png, at(1));
      png[4] = 99;
      const got = await h.stores.screenshots.get(command.id);
      expect(got && { png: [...got.png], takenAt: got.takenAt }).toEqual({
        png: [0x89, 0x50, 0x4e, 0x47, 1],
        takenAt: at(1),
      });
      if (got) got.png[4] = 77;
      await h.stores.screenshots.save(command.id, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 2]), at(2));
      const replaced = await h.stores.screenshots.get(command.id);
      expect(replaced && { png: [...replaced.png], takenAt: replaced.takenAt }).toEqual({
        png: [0x89, 0x50, 0x4e, 0x47, 2],
        takenAt: at(2),
      });
      expect(await h.stores.screenshots.get(randomUUID())).toBeUndefined();
      expect(await h.stores.screenshots.get("not-a-uuid")).toBeUndefined();
    });
  });

  describe("HealthStore", () => {
    const sample = (seconds: number, cpu: number): HealthSample => ({
      at: at(seconds),
      health: create(HealthSchema, { cpuLoadPercent: cpu, diskUsedBytes: BigInt(cpu) * 1000n }),
    });

    it("returns a screen's samples with from <= at < to in time order, whatever order they came in", async () => {
      const samples = [sample(20, 3), sample(0, 1), sample(10, 2), sample(30, 4)];
      for (const s of samples) await h.stores.health.append(screen, s);
      await h.stores.health.append(theirScreen, sample(10, 9));
      const inOrder = [sample(0, 1), sample(10, 2), sample(20, 3)];
      // Before PostgreSQL's buffered appends are written, and after.
      expect(await h.stores.health.range(screen, at(0), at(30))).toEqual(inOrder);
      await h.settle();
      expect(await h.stores.health.range(screen, at(0), at(30))).toEqual(inOrder);
      await h.stores.health.append(screen, sample(5, 8));
      expect(await h.stores.health.range(screen, at(0), at(11))).toEqual([sample(0, 1), sample(5, 8), sample(10, 2)]);
      expect(await h.stores.health.range(screen, at(31), at(40))).toEqual([]);
      expect(await h.stores.health.range(randomUUID(), at(0), at(40))).toEqual([]);
      expect(await h.stores.health.range("not-a-uuid", at(0), at(40))).toEqual([]);
    });

    it("prunes the samples older than the cut-off, of every screen, and says how many", async () => {
      // Far in the past: no other test's samples are that old.
      const old = (seconds: number, cpu: number) => ({
        ...sample(0, cpu),
        at: new Date(Date.UTC(2000, 0, 1, 0, 0, seconds)),
      });
      for (const s of [old(0, 1), old(10, 2), old(20, 3)]) await h.stores.health.append(screen, s);
      await h.stores.health.append(theirScreen, old(5, 4));
      await h.settle();
      expect(await h.stores.health.prune(old(10, 0).at)).toBe(2);
      expect(await h.stores.health.range(screen, old(0, 0).at, old(30, 0).at)).toEqual([old(10, 2), old(20, 3)]);
      expect(await h.stores.health.range(theirScreen, old(0, 0).at, old(30, 0).at)).toEqual([]);
      expect(await h.stores.health.prune(old(10, 0).at)).toBe(0);
    });
  });

  describe("PlayEventStore", () => {
    const event = (eventId: string) =>
      create(PlayEventSchema, { eventId, videoId: "v1", startedAt: timestampFromDate(at(1)) });

    it("stores each event once per screen and says how many were new", async () => {
      expect(await h.stores.playEvents.insertMany(tenant, screen, [event("e1"), event("e2"), event("e3")])).toBe(3);
      // A resent batch with one new event.
      expect(await h.stores.playEvents.insertMany(tenant, screen, [event("e1"), event("e2"), event("e4")])).toBe(1);
      // An event twice in one batch counts once.
      expect(await h.stores.playEvents.insertMany(tenant, screen, [event("e5"), event("e5")])).toBe(1);
      // Event ids are the screen's own: another screen may use the same.
      expect(await h.stores.playEvents.insertMany(other, theirScreen, [event("e1")])).toBe(1);
      expect(await h.stores.playEvents.insertMany(tenant, screen, [])).toBe(0);
    });
  });

  describe("AssetCatalog", () => {
    it("knows which assets a tenant owns, and never another tenant's", async () => {
      const sha = "d".repeat(64);
      await h.asset(tenant, sha);
      expect(await h.stores.assets.tenantHasAsset(tenant, sha)).toBe(true);
      expect(await h.stores.assets.tenantHasAsset(other, sha)).toBe(false);
      expect(await h.stores.assets.tenantHasAsset(tenant, "e".repeat(64))).toBe(false);
    });
  });
});
