import { randomUUID } from "node:crypto";
import { HealthSchema, PlaybackState, PlaybackStatusSchema } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { VersionInsert } from "../../src/fleet/fleet/index.ts";
import { emptyStatus } from "../../src/fleet/fleet/index.ts";
import { at, type StoreHarness, screenRecord, storeImplementations } from "./store-contract.ts";

/**
 * The contract of DesiredStateStore (versions only ever next, the loser of a race re-reads) and
 * ScreenStatusStore (field patches, raise-only versions, acks), over the in-memory fakes and the
 * PostgreSQL stores (whose heartbeat fields are write-behind: checked before and after the flush).
 */
describe.each(storeImplementations)("fleet version and status stores %s", (_kind, open) => {
  let h: StoreHarness;
  let tenant: string;

  beforeAll(async () => {
    h = await open();
  });
  afterAll(() => h.close());
  beforeEach(async () => {
    tenant = await h.tenant();
  });

  describe("DesiredStateStore", () => {
    /**
     * Version `version` of the screen's desired state, stored under `contentHash`. The document's own
     * hash field differs on purpose: heads must report the stored column, not re-read the document.
     */
    const entry = (screenId: string, version: bigint, label: string, contentHash = `hash-${label}`): VersionInsert => {
      const document = create(DesiredStateSchema, {
        screenId,
        version,
        contentHash: `document-${label}`,
        defaultPlaylistId: label,
      });
      return { screenId, version, contentHash, document: toBinary(DesiredStateSchema, document) };
    };
    const bytes = (value: Uint8Array | undefined) => (value ? [...value] : undefined);

    it("stores versions one after another and reads back the latest as stored", async () => {
      const screen = randomUUID();
      const first = entry(screen, 1n, "p1");
      expect(await h.stores.desiredStates.insertMany([first])).toEqual(new Set([screen]));
      expect((await h.stores.desiredStates.latest(screen))?.defaultPlaylistId).toBe("p1");
      const second = entry(screen, 2n, "p2");
      expect(await h.stores.desiredStates.insertMany([second])).toEqual(new Set([screen]));
      expect(await h.stores.desiredStates.latest(screen)).toMatchObject({ version: 2n, defaultPlaylistId: "p2" });
      expect(await h.stores.desiredStates.heads([screen])).toEqual(
        new Map([[screen, { version: 2n, contentHash: "hash-p2" }]]),
      );
      const encoded = await h.stores.desiredStates.latestEncoded([screen]);
      expect(bytes(encoded.get(screen))).toEqual(bytes(second.document));
      // A screen without versions has none, and empty asks read nothing.
      const none = randomUUID();
      expect(await h.stores.desiredStates.latest(none)).toBeUndefined();
      expect(await h.stores.desiredStates.heads([none])).toEqual(new Map());
      expect(await h.stores.desiredStates.latestEncoded([none])).toEqual(new Map());
      expect(await h.stores.desiredStates.heads([])).toEqual(new Map());
      expect(await h.stores.desiredStates.insertMany([])).toEqual(new Set());
    });

    it("stores a version only as latest + 1: a repeat, a gap or a version 0 loses", async () => {
      const screen = randomUUID();
      expect(await h.stores.desiredStates.insertMany([entry(screen, 0n, "zero")])).toEqual(new Set());
      expect(await h.stores.desiredStates.insertMany([entry(screen, 2n, "gap")])).toEqual(new Set());
      await h.stores.desiredStates.insertMany([entry(screen, 1n, "first")]);
      expect(await h.stores.desiredStates.insertMany([entry(screen, 1n, "again")])).toEqual(new Set());
      expect(await h.stores.desiredStates.insertMany([entry(screen, 3n, "gap")])).toEqual(new Set());
      expect(await h.stores.desiredStates.latest(screen)).toMatchObject({ version: 1n, defaultPlaylistId: "first" });
    });

    it("reads heads (the stored version and hash) and documents of many screens at once", async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await h.stores.desiredStates.insertMany([entry(a, 1n, "a1", "stored-a"), entry(b, 1n, "b1", "stored-b")]);
      await h.stores.desiredStates.insertMany([entry(a, 2n, "a2", "stored-a2")]);
      expect(await h.stores.desiredStates.heads([a, b, c])).toEqual(
        new Map([
          [a, { version: 2n, contentHash: "stored-a2" }],
          [b, { version: 1n, contentHash: "stored-b" }],
        ]),
      );
      const documents = await h.stores.desiredStates.latestEncoded([c, b, a]);
      expect([...documents.keys()].sort()).toEqual([a, b].sort());
      expect(bytes(documents.get(a))).toEqual(bytes(entry(a, 2n, "a2", "stored-a2").document));
    });

    it("checks a whole batch against the heads before it: at most the next version per screen, the first of twins", async () => {
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await h.stores.desiredStates.insertMany([entry(b, 1n, "b1")]);
      const inserted = await h.stores.desiredStates.insertMany([
        entry(a, 1n, "a1"),
        entry(a, 2n, "a2"),
        entry(b, 2n, "b2"),
        entry(c, 1n, "c-first"),
        entry(c, 1n, "c-second"),
      ]);
      expect(inserted).toEqual(new Set([a, b, c]));
      expect(await h.stores.desiredStates.heads([a, b, c])).toEqual(
        new Map([
          [a, { version: 1n, contentHash: "hash-a1" }],
          [b, { version: 2n, contentHash: "hash-b2" }],
          [c, { version: 1n, contentHash: "hash-c-first" }],
        ]),
      );
    });

    it("gives 20 concurrent writers that re-read on a lost race strictly increasing versions, none lost", async () => {
      const screen = randomUUID();
      const writer = async (n: number) => {
        for (;;) {
          const head = (await h.stores.desiredStates.heads([screen])).get(screen)?.version ?? 0n;
          if ((await h.stores.desiredStates.insertMany([entry(screen, head + 1n, `w${n}`)])).has(screen)) return;
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, n) => writer(n)));
      expect((await h.stores.desiredStates.heads([screen])).get(screen)?.version).toBe(20n);
    });
  });

  describe("ScreenStatusStore", () => {
    const newScreen = async () => {
      const screen = screenRecord(tenant);
      await h.stores.screens.create(screen);
      return screen.id;
    };

    it("creates the row on the first patch with every other field at its default, then patches field by field", async () => {
      const [a, b] = [await newScreen(), await newScreen()];
      expect(await h.stores.statuses.get(a)).toBeUndefined();
      await h.stores.statuses.patch(a, { streamOpen: true, ipAddress: "192.0.2.7", heartbeatIntervalSeconds: 20 });
      const opened = { ...emptyStatus(a, 20), streamOpen: true, ipAddress: "192.0.2.7" };
      expect(await h.stores.statuses.get(a)).toEqual(opened);
      await h.stores.statuses.patch(a, { lastSyncError: "DISK_FULL: no space", lastFailedVersion: 3n });
      const failed = { ...opened, lastSyncError: "DISK_FULL: no space", lastFailedVersion: 3n };
      expect(await h.stores.statuses.get(a)).toEqual(failed);
      await h.stores.statuses.patch(b, { streamOpen: false });
      const many = await h.stores.statuses.getMany([a, b, randomUUID(), "not-a-uuid"]);
      expect(many).toEqual(
        new Map([
          [a, failed],
          [b, emptyStatus(b, 15)],
        ]),
      );
      expect(await h.stores.statuses.getMany([])).toEqual(new Map());
      // A patch back to "unset" clears a field.
      await h.stores.statuses.patch(a, { desiredAt: at(1) });
      await h.stores.statuses.patch(a, { desiredAt: undefined });
      expect((await h.stores.statuses.get(a))?.desiredAt).toBeUndefined();
    });

    it("keeps heartbeat fields (last seen, health, playback) readable before and after they are written", async () => {
      const screen = await newScreen();
      await h.stores.statuses.patch(screen, { streamOpen: true });
      const health = create(HealthSchema, { cpuLoadPercent: 12.5, memoryUsedBytes: 1024n, displayConnected: true });
      const playback = create(PlaybackStatusSchema, { state: PlaybackState.PLAYING, videoId: "v1", positionMs: 400 });
      await h.stores.statuses.patch(screen, { lastSeenAt: at(10), lastHealth: health, playback });
      const expected = {
        ...emptyStatus(screen, 15),
        streamOpen: true,
        lastSeenAt: at(10),
        lastHealth: health,
        playback,
      };
      expect(await h.stores.statuses.get(screen)).toEqual(expected);
      await h.settle();
      expect(await h.stores.statuses.get(screen)).toEqual(expected);
      // A later field patch keeps the heartbeat fields.
      await h.stores.statuses.patch(screen, { lastSeenAt: at(20) });
      await h.stores.statuses.patch(screen, { streamOpen: false });
      await h.settle();
      expect(await h.stores.statuses.get(screen)).toEqual({ ...expected, lastSeenAt: at(20), streamOpen: false });
    });

    it("raises desired versions only upwards, stamped with when; a screen that does not exist gets no row", async () => {
      const [a, b] = [await newScreen(), await newScreen()];
      await h.stores.statuses.patch(a, { streamOpen: true });
      const ghost = randomUUID();
      await h.stores.statuses.raiseDesiredMany(
        [
          { screenId: a, version: 3n },
          { screenId: b, version: 1n },
          { screenId: ghost, version: 1n },
        ],
        at(1),
      );
      expect(await h.stores.statuses.get(a)).toMatchObject({ streamOpen: true, desiredVersion: 3n, desiredAt: at(1) });
      expect(await h.stores.statuses.get(b)).toEqual({ ...emptyStatus(b, 15), desiredVersion: 1n, desiredAt: at(1) });
      expect(await h.stores.statuses.get(ghost)).toBeUndefined();
      // Lower or equal versions (publishes finishing out of order) change nothing, not even the time.
      await h.stores.statuses.raiseDesiredMany(
        [
          { screenId: a, version: 2n },
          { screenId: b, version: 1n },
        ],
        at(2),
      );
      expect(await h.stores.statuses.get(a)).toMatchObject({ desiredVersion: 3n, desiredAt: at(1) });
      expect(await h.stores.statuses.get(b)).toMatchObject({ desiredVersion: 1n, desiredAt: at(1) });
      await h.stores.statuses.raiseDesiredMany([{ screenId: a, version: 4n }], at(3));
      expect(await h.stores.statuses.get(a)).toMatchObject({ desiredVersion: 4n, desiredAt: at(3) });
      await h.stores.statuses.raiseDesiredMany([], at(4));
    });

    it("records acks: applied only rises, last seen never goes back, and only a raising ack reports the desired version", async () => {
      const [a, b] = [await newScreen(), await newScreen()];
      await h.stores.statuses.raiseDesiredMany([{ screenId: a, version: 5n }], at(0));
      expect(await h.stores.statuses.recordApplied(a, 5n, at(20))).toEqual({ desiredVersion: 5n, desiredAt: at(0) });
      expect(await h.stores.statuses.get(a)).toMatchObject({ appliedVersion: 5n, lastSeenAt: at(20) });
      // A late ack of an older version: nothing changes, nothing is reported.
      expect(await h.stores.statuses.recordApplied(a, 4n, at(30))).toBeUndefined();
      expect(await h.stores.statuses.recordApplied(a, 5n, at(30))).toBeUndefined();
      expect(await h.stores.statuses.get(a)).toMatchObject({ appliedVersion: 5n, lastSeenAt: at(20) });
      // A newer version acked with an older time raises applied but keeps the later last-seen.
      expect(await h.stores.statuses.recordApplied(a, 6n, at(10))).toEqual({ desiredVersion: 5n, desiredAt: at(0) });
      expect(await h.stores.statuses.get(a)).toMatchObject({ appliedVersion: 6n, lastSeenAt: at(20) });
      // A screen without a status row gets one; a screen that does not exist gets nothing.
      expect(await h.stores.statuses.recordApplied(b, 1n, at(5))).toEqual({ desiredVersion: 0n, desiredAt: undefined });
      expect(await h.stores.statuses.get(b)).toEqual({ ...emptyStatus(b, 15), appliedVersion: 1n, lastSeenAt: at(5) });
      const ghost = randomUUID();
      expect(await h.stores.statuses.recordApplied(ghost, 1n, at(5))).toBeUndefined();
      expect(await h.stores.statuses.get(ghost)).toBeUndefined();
    });

    it("deletes a screen's status row", async () => {
      const screen = await newScreen();
      await h.stores.statuses.patch(screen, { streamOpen: true });
      await h.stores.statuses.patch(screen, { lastSeenAt: at(1) });
      await h.stores.statuses.delete(screen);
      expect(await h.stores.statuses.get(screen)).toBeUndefined();
      await h.settle();
      expect(await h.stores.statuses.get(screen)).toBeUndefined();
      await expect(h.stores.statuses.delete(randomUUID())).resolves.toBeUndefined();
    });
  });
});
