import { describe, expect, it } from "vitest";
import {
  formatPairingCode,
  hashSecret,
  newPairingCode,
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

describe("stored secret hashes", () => {
  it("compare in constant time", () => {
    const stored = hashSecret("avd_one");
    expect(sameHash(stored, hashSecret("avd_one"))).toBe(true);
    expect(sameHash(stored, hashSecret("avd_two"))).toBe(false);
    expect(sameHash(stored, "abcd")).toBe(false);
  });
});
