import { randomUUID } from "node:crypto";
import { DeviceFactsSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { PairingRecord, ScreenRecord } from "../../src/fleet/fleet/index.ts";
import {
  at,
  enrollmentKeyRecord,
  pairingRecord,
  type StoreHarness,
  screenRecord,
  secretHash,
  storeImplementations,
  uniqueViolationOf,
} from "./store-contract.ts";

/**
 * The contract of PairingStore and EnrollmentKeyStore (claims, deliveries and key uses are
 * conditional writes; codes and keys expire), over the in-memory fakes and the PostgreSQL stores.
 */
describe.each(storeImplementations)("fleet enrollment stores %s", (_kind, open) => {
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

  describe("PairingStore", () => {
    /** Claims `pairing`'s code at `now` as a new screen of `tenantId`; records what `screenFor` was given. */
    const claim = async (pairing: PairingRecord, now: Date, tenantId = tenant) => {
      const screenId = randomUUID();
      const seen: PairingRecord[] = [];
      const screen = await h.stores.pairings.claimAndCreate(pairing.code, { tenantId, screenId }, now, (p) => {
        seen.push(p);
        return screenRecord(tenantId, { id: screenId, hardwareId: p.hardwareId, name: "claimed" });
      });
      return { screen, screenId, seen };
    };

    it("creates a pairing and finds it by its secret, whole", async () => {
      const pairing = pairingRecord({
        facts: create(DeviceFactsSchema, { model: "Pi 5", hostname: "lobby", macAddresses: ["aa:bb:cc:dd:ee:ff"] }),
      });
      expect(await h.stores.pairings.create(pairing)).toBe(true);
      expect(await h.stores.pairings.findBySecretHash(pairing.secretHash)).toEqual(pairing);
      expect(await h.stores.pairings.findBySecretHash(secretHash())).toBeUndefined();
    });

    it("refuses a code while it is live; an expired or claimed code may be drawn again, and a secret only once", async () => {
      const first = pairingRecord({ createdAt: at(0) });
      expect(await h.stores.pairings.create(first)).toBe(true);
      expect(await h.stores.pairings.create(pairingRecord({ code: first.code, createdAt: at(60) }))).toBe(false);
      // At its expiry the code is free again, and the expired pairing is gone.
      const second = pairingRecord({ code: first.code, createdAt: first.expiresAt });
      expect(await h.stores.pairings.create(second)).toBe(true);
      expect(await h.stores.pairings.findBySecretHash(first.secretHash)).toBeUndefined();
      // A claimed pairing holds its code no more, and stays findable for the device polling it.
      const { screen } = await claim(second, second.createdAt);
      expect(screen).toBeDefined();
      const third = pairingRecord({ code: first.code, createdAt: second.createdAt });
      expect(await h.stores.pairings.create(third)).toBe(true);
      expect(await h.stores.pairings.findBySecretHash(second.secretHash)).toMatchObject({
        code: first.code,
        claimedScreenId: screen?.id,
      });
      expect(await h.stores.pairings.findBySecretHash(third.secretHash)).toEqual(third);
      expect(await h.stores.pairings.create(pairingRecord({ secretHash: third.secretHash }))).toBe(false);
    });

    it("claims a live code once: the pairing is marked and the screen created, for the claiming tenant", async () => {
      const pairing = pairingRecord({ hardwareId: "pi-claim", createdAt: at(0) });
      await h.stores.pairings.create(pairing);
      const { screen, screenId, seen } = await claim(pairing, at(30));
      expect(screen).toMatchObject({ id: screenId, tenantId: tenant, hardwareId: "pi-claim" });
      // screenFor sees the pairing as the claim left it.
      expect(seen).toEqual([{ ...pairing, claimedTenantId: tenant, claimedScreenId: screenId }]);
      expect(await h.stores.screens.get(tenant, screenId)).toMatchObject({ hardwareId: "pi-claim", name: "claimed" });
      expect(await h.stores.pairings.findBySecretHash(pairing.secretHash)).toEqual({
        ...pairing,
        claimedTenantId: tenant,
        claimedScreenId: screenId,
      });
      const again = await claim(pairing, at(31), other);
      expect(again.screen).toBeUndefined();
      expect(again.seen).toEqual([]);
      expect(await h.stores.screens.get(other, again.screenId)).toBeUndefined();
      expect((await claim(pairingRecord(), at(31))).screen).toBeUndefined();
    });

    it("claims a code only before it expires (at expiresAt it is gone)", async () => {
      const pairing = pairingRecord({ createdAt: at(0) });
      await h.stores.pairings.create(pairing);
      expect((await claim(pairing, pairing.expiresAt)).screen).toBeUndefined();
      expect((await claim(pairing, new Date(pairing.expiresAt.getTime() + 1))).screen).toBeUndefined();
      expect((await h.stores.pairings.findBySecretHash(pairing.secretHash))?.claimedScreenId).toBeUndefined();
      expect((await claim(pairing, new Date(pairing.expiresAt.getTime() - 1))).screen).toBeDefined();
    });

    it("claims a device the tenant already has as a screen for that screen, creating none", async () => {
      const known = screenRecord(tenant, { hardwareId: "pi-twice", name: "Lobby" });
      await h.stores.screens.create(known);
      const pairing = pairingRecord({ hardwareId: "pi-twice", createdAt: at(0) });
      await h.stores.pairings.create(pairing);
      const { screen, seen } = await claim(pairing, at(1));
      expect(screen).toMatchObject({ id: known.id, tenantId: tenant, hardwareId: "pi-twice", name: "Lobby" });
      expect(seen).toEqual([]);
      expect(await h.stores.pairings.findBySecretHash(pairing.secretHash)).toMatchObject({
        claimedTenantId: tenant,
        claimedScreenId: known.id,
      });
      expect(await h.stores.screens.list(tenant)).toHaveLength(1);
    });

    it("claims both or neither: when the screen cannot be created the code stays claimable", async () => {
      const pairing = pairingRecord({ hardwareId: "pi-twice", createdAt: at(0) });
      await h.stores.pairings.create(pairing);
      // A screen that is not the claimed one is refused, and the code is not claimed.
      const wrongId = (p: PairingRecord): ScreenRecord => screenRecord(tenant, { hardwareId: `${p.hardwareId}-x` });
      await expect(
        h.stores.pairings.claimAndCreate(pairing.code, { tenantId: tenant, screenId: randomUUID() }, at(1), wrongId),
      ).rejects.toThrow("the screen must have the claimed id and tenant");
      expect((await h.stores.pairings.findBySecretHash(pairing.secretHash))?.claimedScreenId).toBeUndefined();
      // The same code, claimed into another tenant, works.
      expect((await claim(pairing, at(2), other)).screen).toMatchObject({ tenantId: other, hardwareId: "pi-twice" });
    });

    it("lets exactly one of 10 concurrent claims of a code win", async () => {
      const pairing = pairingRecord({ createdAt: at(0) });
      await h.stores.pairings.create(pairing);
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => claim(pairing, at(1))));
      const winners = outcomes.filter((outcome) => outcome.screen !== undefined);
      expect(winners).toHaveLength(1);
      const claimed = await h.stores.pairings.findBySecretHash(pairing.secretHash);
      expect(claimed?.claimedScreenId).toBe(winners[0]?.screenId);
      expect(await h.stores.screens.findByHardwareId(tenant, pairing.hardwareId)).toMatchObject({
        id: winners[0]?.screenId,
      });
    });

    it("hands the token out once: delivery needs a claim and succeeds for exactly one caller", async () => {
      const pairing = pairingRecord({ createdAt: at(0) });
      await h.stores.pairings.create(pairing);
      expect(await h.stores.pairings.markDelivered(pairing.secretHash)).toBe(false);
      await claim(pairing, at(1));
      const delivered = await Promise.all(
        Array.from({ length: 5 }, () => h.stores.pairings.markDelivered(pairing.secretHash)),
      );
      expect(delivered.filter(Boolean)).toHaveLength(1);
      expect((await h.stores.pairings.findBySecretHash(pairing.secretHash))?.delivered).toBe(true);
      expect(await h.stores.pairings.markDelivered(pairing.secretHash)).toBe(false);
      expect(await h.stores.pairings.markDelivered(secretHash())).toBe(false);
    });
  });

  describe("EnrollmentKeyStore", () => {
    it("stores keys whole and lists the tenant's newest first, then by id, never another tenant's", async () => {
      const groupId = await h.group(tenant);
      const oldest = enrollmentKeyRecord(tenant, {
        name: "lobby",
        groupId,
        maxUses: 10,
        uses: 2,
        expiresAt: at(86_400),
        createdAt: at(-100),
      });
      const twins = [at(-10), at(-10)].map((createdAt) => enrollmentKeyRecord(tenant, { createdAt }));
      const revoked = enrollmentKeyRecord(tenant, { createdAt: at(-50), revokedAt: at(-5) });
      for (const key of [oldest, ...twins, revoked]) await h.stores.enrollmentKeys.create(key);
      await h.stores.enrollmentKeys.create(enrollmentKeyRecord(other, { createdAt: at(-1) }));
      const sortedTwins = [...twins].sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(await h.stores.enrollmentKeys.list(tenant)).toEqual([...sortedTwins, revoked, oldest]);
      expect(await h.stores.enrollmentKeys.list(await h.tenant())).toEqual([]);
    });

    it("refuses a second key with the same id or secret", async () => {
      const key = enrollmentKeyRecord(tenant);
      await h.stores.enrollmentKeys.create(key);
      await expect(
        h.stores.enrollmentKeys.create(enrollmentKeyRecord(tenant, { secretHash: key.secretHash })),
      ).rejects.toMatchObject(uniqueViolationOf("enrollment_keys_secret_hash_unique"));
      await expect(h.stores.enrollmentKeys.create(enrollmentKeyRecord(tenant, { id: key.id }))).rejects.toMatchObject(
        uniqueViolationOf("enrollment_keys_pkey"),
      );
      expect(await h.stores.enrollmentKeys.list(tenant)).toEqual([key]);
    });

    it("counts uses of a live key up to maxUses (0 is unlimited) and hands back the key as counted", async () => {
      const limited = enrollmentKeyRecord(tenant, { maxUses: 2 });
      const unlimited = enrollmentKeyRecord(tenant, { maxUses: 0, createdAt: at(-1) });
      await h.stores.enrollmentKeys.create(limited);
      await h.stores.enrollmentKeys.create(unlimited);
      expect(await h.stores.enrollmentKeys.use(limited.secretHash, at(1))).toEqual({ ...limited, uses: 1 });
      expect(await h.stores.enrollmentKeys.use(limited.secretHash, at(2))).toEqual({ ...limited, uses: 2 });
      expect(await h.stores.enrollmentKeys.use(limited.secretHash, at(3))).toBeUndefined();
      for (let i = 1; i <= 5; i++) {
        expect(await h.stores.enrollmentKeys.use(unlimited.secretHash, at(i))).toMatchObject({ uses: i });
      }
      expect(await h.stores.enrollmentKeys.list(tenant)).toEqual([
        { ...limited, uses: 2 },
        { ...unlimited, uses: 5 },
      ]);
      expect(await h.stores.enrollmentKeys.use(secretHash(), at(1))).toBeUndefined();
    });

    it("uses no key at or after its expiry, nor a revoked one", async () => {
      const expiring = enrollmentKeyRecord(tenant, { expiresAt: at(100) });
      await h.stores.enrollmentKeys.create(expiring);
      expect(await h.stores.enrollmentKeys.use(expiring.secretHash, at(100))).toBeUndefined();
      expect(await h.stores.enrollmentKeys.use(expiring.secretHash, at(101))).toBeUndefined();
      expect(await h.stores.enrollmentKeys.use(expiring.secretHash, at(99))).toMatchObject({ uses: 1 });
      const revoked = enrollmentKeyRecord(tenant, { revokedAt: at(0) });
      await h.stores.enrollmentKeys.create(revoked);
      expect(await h.stores.enrollmentKeys.use(revoked.secretHash, at(1))).toBeUndefined();
    });

    it("revokes a key of the tenant once (the first time stays); another tenant's or an unknown key is not found", async () => {
      const key = enrollmentKeyRecord(tenant);
      await h.stores.enrollmentKeys.create(key);
      expect(await h.stores.enrollmentKeys.revoke(other, key.id, at(5))).toBeUndefined();
      expect(await h.stores.enrollmentKeys.use(key.secretHash, at(6))).toMatchObject({ uses: 1 });
      expect(await h.stores.enrollmentKeys.revoke(tenant, key.id, at(10))).toEqual({
        ...key,
        uses: 1,
        revokedAt: at(10),
      });
      expect(await h.stores.enrollmentKeys.revoke(tenant, key.id, at(20))).toMatchObject({ revokedAt: at(10) });
      expect(await h.stores.enrollmentKeys.use(key.secretHash, at(21))).toBeUndefined();
      expect(await h.stores.enrollmentKeys.revoke(tenant, randomUUID(), at(20))).toBeUndefined();
      expect(await h.stores.enrollmentKeys.revoke(tenant, "not-a-uuid", at(20))).toBeUndefined();
    });

    it("counts at most maxUses under 20 concurrent uses", async () => {
      const key = enrollmentKeyRecord(tenant, { maxUses: 5 });
      await h.stores.enrollmentKeys.create(key);
      const used = await Promise.all(
        Array.from({ length: 20 }, () => h.stores.enrollmentKeys.use(key.secretHash, at(1))),
      );
      expect(used.filter(Boolean)).toHaveLength(5);
      expect((await h.stores.enrollmentKeys.list(tenant))[0]?.uses).toBe(5);
    });
  });
});
