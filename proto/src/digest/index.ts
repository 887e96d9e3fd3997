/** A lowercase hex sha256, as used for asset names and content hashes. */
export type Sha256Hex = string;

const sha256HexPattern = /^[0-9a-f]{64}$/;

/** True when `value` is a lowercase 64-character hex sha256. */
export function isSha256Hex(value: string): value is Sha256Hex {
  return sha256HexPattern.test(value);
}
