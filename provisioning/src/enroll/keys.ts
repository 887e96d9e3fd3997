import type { EnrollmentKeyInfo } from "./enroll.ts";

/** Which key a `--name` means: exactly one key with that name that is not revoked. */
export type KeyByName =
  | { readonly type: "Found"; readonly key: EnrollmentKeyInfo }
  /** No key has that name at all. */
  | { readonly type: "NotFound" }
  /** Every key with that name is revoked already. */
  | { readonly type: "AllRevoked"; readonly keys: readonly EnrollmentKeyInfo[] }
  /** Several keys that are not revoked have that name: the caller must pick one by id. */
  | { readonly type: "Ambiguous"; readonly keys: readonly EnrollmentKeyInfo[] };

/**
 * Finds the key a name means. Names compare exactly after trimming (the control plane trims them
 * when it creates a key); keys already revoked do not count, so a site's old revoked key never makes
 * its new one ambiguous.
 */
export function keyByName(keys: readonly EnrollmentKeyInfo[], name: string): KeyByName {
  const wanted = name.trim();
  const named = keys.filter((k) => k.name === wanted);
  const live = named.filter((k) => k.state !== "revoked");
  const [only] = live;
  if (only !== undefined && live.length === 1) return { type: "Found", key: only };
  if (live.length > 1) return { type: "Ambiguous", keys: live };
  return named.length === 0 ? { type: "NotFound" } : { type: "AllRevoked", keys: named };
}

const stateText: Record<EnrollmentKeyInfo["state"], string> = {
  active: "active",
  expired: "expired",
  used_up: "used up",
  revoked: "revoked",
  unknown: "unknown",
};

/** `2026-11-24 02:05` in UTC, the table's time format (the header says UTC). */
function utcMinute(date: Date): string {
  return date.toISOString().slice(0, 16).replace("T", " ");
}

// Names are free text: control characters (newlines, terminal escapes) would break the table or the terminal.
function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, "?");
}

/**
 * Renders keys as a text table with the columns name, state, uses/max, expires, created (UTC) and id,
 * in the order given (ListEnrollmentKeys returns newest first). Never shows a secret: the list has none.
 */
export function keyTable(keys: readonly EnrollmentKeyInfo[]): string {
  if (keys.length === 0) return "no enrollment keys in this tenant: create one with create-enrollment-key\n";
  const header = ["NAME", "STATE", "USES/MAX", "EXPIRES (UTC)", "CREATED (UTC)", "ID"];
  const rows = keys.map((k) => [
    printable(k.name),
    stateText[k.state],
    `${k.uses}/${k.maxUses === 0 ? "∞" : k.maxUses}`,
    k.expiresAt === undefined ? "never" : utcMinute(k.expiresAt),
    utcMinute(k.createdAt),
    k.id,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows]
    .map(
      (cells) =>
        `${cells
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd()}\n`,
    )
    .join("");
}

/**
 * The `--json` form of a key list for scripts: `{"keys": [...]}` in the order given, each key with
 * `id`, `name`, `groupId` ("" = none), `state` (active | expired | used_up | revoked | unknown), `uses`,
 * `maxUses` (0 = unlimited), and `expiresAt`, `createdAt`, `revokedAt` as ISO 8601 UTC strings or null.
 */
export function keysJson(keys: readonly EnrollmentKeyInfo[]): string {
  const iso = (d: Date | undefined) => (d === undefined ? null : d.toISOString());
  const out = keys.map((k) => ({
    id: k.id,
    name: k.name,
    groupId: k.groupId,
    state: k.state,
    uses: k.uses,
    maxUses: k.maxUses,
    expiresAt: iso(k.expiresAt),
    createdAt: iso(k.createdAt),
    revokedAt: iso(k.revokedAt),
  }));
  return `${JSON.stringify({ keys: out }, null, 2)}\n`;
}
