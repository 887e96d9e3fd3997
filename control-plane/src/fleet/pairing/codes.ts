import { randomInt, timingSafeEqual } from "node:crypto";
import { hashSecret } from "../../platform/auth/secrets.ts";

export { hashSecret };

/**
 * RFC 8628 §6.1's consonant alphabet: no vowels (no words), no look-alikes (0/O, 1/I).
 * 8 characters ≈ 34.5 bits; the risk is guessing any live code, so claims are rate-limited too.
 */
export const pairingAlphabet = "BCDFGHJKLMNPQRSTVWXZ";
export const pairingCodeLength = 8;

/** A fresh random pairing code, e.g. "KXWT-BMQD" as shown on screen (stored without the dash). */
export function newPairingCode(random: (max: number) => number = randomInt): string {
  let code = "";
  for (let i = 0; i < pairingCodeLength; i++) code += pairingAlphabet[random(pairingAlphabet.length)];
  return code;
}

/** How a code is shown on screen: two groups of four. */
export function formatPairingCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * Normalises what a person typed: case, spaces and dashes are ignored. Returns undefined when it
 * cannot be a code (wrong length or characters) so the caller answers like for a wrong code.
 */
export function normalisePairingCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== pairingCodeLength) return undefined;
  for (const char of code) if (!pairingAlphabet.includes(char)) return undefined;
  return code;
}

/** Constant-time comparison of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}
