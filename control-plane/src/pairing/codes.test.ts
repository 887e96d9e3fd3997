import { describe, expect, it } from "vitest";
import {
  formatPairingCode,
  hashSecret,
  newPairingCode,
  newSecret,
  normalisePairingCode,
  pairingAlphabet,
  sameHash,
} from "./codes.ts";

describe("pairing codes", () => {
  it("are 8 characters of the consonant alphabet", () => {
    for (let i = 0; i < 200; i++) {
      const code = newPairingCode();
      expect(code).toMatch(new RegExp(`^[${pairingAlphabet}]{8}$`));
    }
  });

  it("read back whatever case, spaces or dashes a person types", () => {
    expect(formatPairingCode("KXWTBMQD")).toBe("KXWT-BMQD");
    expect(normalisePairingCode(" kxwt-bmqd ")).toBe("KXWTBMQD");
    expect(normalisePairingCode("KXWT BMQD")).toBe("KXWTBMQD");
  });

  it("refuse what cannot be a code", () => {
    expect(normalisePairingCode("KXWT-BMQ")).toBeUndefined();
    expect(normalisePairingCode("KXWT-BMQA")).toBeUndefined(); // vowel
    expect(normalisePairingCode("KXWT-BMQ0")).toBeUndefined();
  });
});

describe("secrets", () => {
  it("are 256-bit random and stored only as their hash", () => {
    const secret = newSecret();
    expect(Buffer.from(secret, "base64url")).toHaveLength(32);
    expect(newSecret()).not.toBe(secret);
    const stored = hashSecret(secret);
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(sameHash(stored, hashSecret(secret))).toBe(true);
    expect(sameHash(stored, hashSecret(newSecret()))).toBe(false);
  });
});
