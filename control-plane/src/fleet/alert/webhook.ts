import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Webhook signatures. Every delivery carries
 *
 *     X-AVTech-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * (the scheme Stripe and others use): the timestamp is signed with the body, so a captured
 * request cannot be replayed later with a new timestamp. A receiver recomputes the HMAC over the
 * exact bytes it received, compares in constant time, and refuses a timestamp older than a few
 * minutes ({@link verifyWebhookSignature} is that check, for receivers written in TypeScript).
 */

/** The header carrying the signature. */
export const signatureHeader = "x-avtech-signature";
/** The header carrying the notification id (the same on every retry: receivers deduplicate on it). */
export const deliveryHeader = "x-avtech-delivery";

/** A new webhook signing secret: 32 random bytes, shown to the admin once. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

/** The signature header's value for `body` sent at `timestampSeconds`. */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},v1=${mac}`;
}

/**
 * True when `header` is a valid signature of `body` by `secret`, made at most `toleranceSeconds`
 * (default 300) from `nowSeconds`.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = new Map(
    header.split(",").map((part) => {
      const at = part.indexOf("=");
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const timestamp = Number(parts.get("t"));
  const given = parts.get("v1") ?? "";
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest();
  const actual = Buffer.from(given, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** What is wrong with a webhook URL (undefined: nothing), said so the admin can fix it. */
export function webhookUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `webhook.url "${url}" is not an absolute URL: give one like https://hooks.example.com/avtech`;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    return `webhook.url must be http:// or https://, not ${parsed.protocol}`;
  }
  if (parsed.username || parsed.password) {
    return "webhook.url must not carry a user or password: the signature authenticates the sender";
  }
  if (url.length > 2000) return "webhook.url is longer than 2000 characters";
  return undefined;
}
