import { describe, expect, it } from "vitest";
import type { EnrollmentKeyInfo } from "./enroll.ts";
import { keyByName, keysJson, keyTable } from "./keys.ts";

function key(id: string, name: string, more: Partial<EnrollmentKeyInfo> = {}): EnrollmentKeyInfo {
  return {
    id,
    name,
    groupId: "",
    state: "active",
    uses: 0,
    maxUses: 0,
    expiresAt: undefined,
    createdAt: new Date("2026-11-24T08:30:00Z"),
    revokedAt: undefined,
    ...more,
  };
}

describe("keyByName", () => {
  const revoked = { state: "revoked", revokedAt: new Date("2026-11-25T00:00:00Z") } as const;

  it("finds the one key with that name that is not revoked, ignoring revoked namesakes", () => {
    const keys = [key("a", "Madrid 12"), key("b", "Madrid 12", revoked), key("c", "Lyon")];
    expect(keyByName(keys, " Madrid 12 ")).toEqual({ type: "Found", key: keys[0] });
  });

  it("counts expired and used-up keys as candidates: they can still be revoked", () => {
    const keys = [key("a", "Lyon", { state: "expired" }), key("b", "Lyon", { state: "used_up" })];
    expect(keyByName(keys, "Lyon")).toEqual({ type: "Ambiguous", keys });
  });

  it("tells an unknown name from one whose keys are all revoked", () => {
    const keys = [key("a", "Madrid 12", revoked)];
    expect(keyByName(keys, "Madrid")).toEqual({ type: "NotFound" });
    expect(keyByName(keys, "Madrid 12")).toEqual({ type: "AllRevoked", keys });
  });
});

describe("keyTable", () => {
  it("shows name, state, uses/max, expiry, creation and id in aligned columns", () => {
    const text = keyTable([
      key("id-2", "Lyon", { uses: 3, maxUses: 20, expiresAt: new Date("2027-01-01T00:00:00Z") }),
      key("id-1", "Madrid store 12", { state: "used_up", uses: 1, maxUses: 1 }),
    ]);
    expect(text).toBe(
      [
        "NAME             STATE    USES/MAX  EXPIRES (UTC)     CREATED (UTC)     ID",
        "Lyon             active   3/20      2027-01-01 00:00  2026-11-24 08:30  id-2",
        "Madrid store 12  used up  1/1       never             2026-11-24 08:30  id-1",
        "",
      ].join("\n"),
    );
  });

  it("shows unlimited uses, keeps control characters out of the terminal and explains an empty list", () => {
    expect(keyTable([key("x", "bad\u001b[31mname\n", { uses: 4 })])).toContain("bad?[31mname?  active  4/∞");
    expect(keyTable([])).toMatch(/^no enrollment keys .*create-enrollment-key\n$/);
  });
});

describe("keysJson", () => {
  it("has every field, with ISO times and null for unset ones", () => {
    const revokedAt = new Date("2026-11-25T00:00:00Z");
    expect(JSON.parse(keysJson([key("a", "Lyon", { state: "revoked", revokedAt, groupId: "g" })]))).toEqual({
      keys: [
        {
          id: "a",
          name: "Lyon",
          groupId: "g",
          state: "revoked",
          uses: 0,
          maxUses: 0,
          expiresAt: null,
          createdAt: "2026-11-24T08:30:00.000Z",
          revokedAt: "2026-11-25T00:00:00.000Z",
        },
      ],
    });
  });
});
