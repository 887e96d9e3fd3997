import { describe, expect, it } from "vitest";
import { planQuota, type QuotaEntry } from "./quota.ts";

const entry = (sha256: string, bytes: number, referenced: boolean, lastPlayedAt = 0): QuotaEntry => ({
  sha256,
  bytes,
  referenced,
  lastPlayedAt,
});

describe("planQuota", () => {
  it("evicts nothing when everything fits", () => {
    const plan = planQuota({
      entries: [entry("a", 10, false)],
      missingBytes: 10,
      neededBytes: 10,
      freeBytes: 1000,
      maxMediaBytes: 100,
      minFreeBytes: 0,
    });
    expect(plan).toEqual({ type: "Fits", evict: [] });
  });

  it("evicts the least recently played unreferenced files first, never a referenced one", () => {
    const plan = planQuota({
      entries: [entry("old", 30, false, 1), entry("new", 30, false, 5), entry("ref", 30, true, 0)],
      missingBytes: 30,
      neededBytes: 60,
      freeBytes: 1000,
      maxMediaBytes: 100,
      minFreeBytes: 0,
    });
    expect(plan).toEqual({ type: "Fits", evict: ["old"] });
  });

  it("keeps min_free_bytes free", () => {
    const plan = planQuota({
      entries: [entry("a", 40, false, 1), entry("b", 40, false, 2)],
      missingBytes: 50,
      neededBytes: 50,
      freeBytes: 60,
      maxMediaBytes: 1000,
      minFreeBytes: 20,
    });
    expect(plan).toEqual({ type: "Fits", evict: ["a"] });
  });

  it("reports needed and available bytes when the referenced set cannot fit", () => {
    const plan = planQuota({
      entries: [entry("ref", 40, true), entry("junk", 10, false)],
      missingBytes: 80,
      neededBytes: 120,
      freeBytes: 50,
      maxMediaBytes: 1000,
      minFreeBytes: 10,
    });
    expect(plan).toEqual({ type: "Exceeded", neededBytes: 120, availableBytes: 90, evict: [] });
  });
});
