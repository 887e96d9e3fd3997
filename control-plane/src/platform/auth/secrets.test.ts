import { describe, expect, it } from "vitest";
import { hashPassword, hashSecret, newSecret, verifyPassword } from "./secrets.ts";

describe("secrets", () => {
  it("verifies the right password and refuses a wrong one", async () => {
    const stored = await hashPassword("correct horse battery");
    expect(stored.startsWith("scrypt$")).toBe(true);
    expect(await verifyPassword("correct horse battery", stored)).toBe(true);
    expect(await verifyPassword("correct horse batterx", stored)).toBe(false);
    expect(await verifyPassword("anything", "not-a-hash")).toBe(false);
  });

  it("salts every password hash", async () => {
    expect(await hashPassword("same password")).not.toBe(await hashPassword("same password"));
  });

  it("makes prefixed 256-bit secrets and stores them as sha256 hex", () => {
    const secret = newSecret("avt");
    expect(secret).toMatch(/^avt_[A-Za-z0-9_-]{43}$/);
    expect(hashSecret(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(newSecret("avt")).not.toBe(secret);
  });
});
