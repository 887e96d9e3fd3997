import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/**
 * A new bearer secret: 32 random bytes (256 bits), base64url, with a readable prefix so a leaked
 * token says what it is ("avs_" session, "avt_" API token, "avd_" device token, "avp_" pairing
 * secret, "ave_" enrollment key).
 */
export function newSecret(prefix: "avs" | "avt" | "avd" | "avp" | "ave"): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/** How secrets are stored: lowercase hex sha256. High-entropy secrets need no salt or KDF. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

// scrypt cost: N=2^15, r=8 needs 32 MiB; maxmem must allow it (Node's default is exactly 32 MiB).
const cost = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const keyLength = 32;

function scryptAsync(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, { ...params, maxmem: cost.maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** Hashes a password with scrypt and a random salt: `scrypt$N$r$p$salt$hash` (base64url parts). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, cost);
  return ["scrypt", cost.N, cost.r, cost.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

/** Checks a password against {@link hashPassword}'s output in constant time; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64url");
  const key = await scryptAsync(password, Buffer.from(salt, "base64url"), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

let decoy: Promise<string> | undefined;

/**
 * The hash of a random password, made on first use: verified against when the user does not
 * exist, so a login's timing does not reveal which emails are registered.
 */
export function decoyPasswordHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString("hex"));
  return decoy;
}
