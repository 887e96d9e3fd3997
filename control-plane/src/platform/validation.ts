import { Code, ConnectError } from "@connectrpc/connect";

// C0 and C1 control characters, DEL, and the Unicode line/paragraph separators.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A display name: trimmed, 1..max characters, no control characters; INVALID_ARGUMENT otherwise. */
export function requireName(value: string, field: string, max = 200): string {
  const name = value.trim();
  if (name.length === 0) throw new ConnectError(`${field} must not be empty`, Code.InvalidArgument);
  if (name.length > max) throw new ConnectError(`${field} must be at most ${max} characters`, Code.InvalidArgument);
  if (controlCharacters.test(name)) {
    throw new ConnectError(`${field} must not contain control characters`, Code.InvalidArgument);
  }
  return name;
}

/** Removes control characters and collapses the whitespace they leave. */
export function stripControlCharacters(value: string): string {
  return value.replace(new RegExp(controlCharacters.source, "g"), " ").replace(/\s+/g, " ").trim();
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An id sent by a client: must be a UUID (anything else cannot exist, so it is NOT_FOUND-free INVALID_ARGUMENT). */
export function requireId(value: string, field: string): string {
  if (!uuidPattern.test(value)) {
    throw new ConnectError(
      `${field} must be an id as returned by this API (a UUID), got "${value.slice(0, 64)}"`,
      Code.InvalidArgument,
    );
  }
  return value.toLowerCase();
}

/** True for a UUID string. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** A lowercase email address with one @ and no spaces. */
export function requireEmail(value: string): string {
  const email = value.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320) {
    throw new ConnectError(`email "${value.slice(0, 64)}" is not an email address`, Code.InvalidArgument);
  }
  return email;
}

/** Minimum password length for people. */
export const minPasswordLength = 12;

/** A password of at least {@link minPasswordLength} characters. */
export function requirePassword(value: string): string {
  if (value.length < minPasswordLength) {
    throw new ConnectError(`password must be at least ${minPasswordLength} characters`, Code.InvalidArgument);
  }
  return value;
}
