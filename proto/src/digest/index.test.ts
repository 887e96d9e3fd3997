import { describe, expect, it } from "vitest";
import { isSha256Hex } from "./index.ts";

describe("isSha256Hex", () => {
  it("accepts a lowercase 64-digit hex string", () => {
    expect(isSha256Hex("0123456789abcdef".repeat(4))).toBe(true);
  });
  it("refuses uppercase, short, long and non-hex strings", () => {
    expect(isSha256Hex("0123456789ABCDEF".repeat(4))).toBe(false);
    expect(isSha256Hex("ab")).toBe(false);
    expect(isSha256Hex("a".repeat(65))).toBe(false);
    expect(isSha256Hex(`${"a".repeat(63)}g`)).toBe(false);
  });
});
