import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { retryDelayMs } from "./delivery.ts";
import { newWebhookSecret, signWebhook, verifyWebhookSignature, webhookUrlProblem } from "./webhook.ts";

describe("webhook signatures", () => {
  const secret = newWebhookSecret();
  const body = '{"id":"n1","type":"alert.opened"}';

  it("signs timestamp and body with HMAC-SHA256, as a receiver recomputes it", () => {
    const header = signWebhook(secret, 1_800_000_000, body);
    const mac = createHmac("sha256", secret).update(`1800000000.${body}`).digest("hex");
    expect(header).toBe(`t=1800000000,v1=${mac}`);
    expect(verifyWebhookSignature(secret, header, body, 1_800_000_100)).toBe(true);
  });

  it("refuses another body, another secret, a stale timestamp and garbage", () => {
    const header = signWebhook(secret, 1_800_000_000, body);
    expect(verifyWebhookSignature(secret, header, `${body} `, 1_800_000_000)).toBe(false);
    expect(verifyWebhookSignature(newWebhookSecret(), header, body, 1_800_000_000)).toBe(false);
    expect(verifyWebhookSignature(secret, header, body, 1_800_000_301)).toBe(false);
    expect(verifyWebhookSignature(secret, "t=x,v1=zz", body, 1_800_000_000)).toBe(false);
    expect(verifyWebhookSignature(secret, header.replace("t=1800000000", "t=1800000001"), body, 1_800_000_000)).toBe(
      false,
    );
  });

  it("makes 256-bit secrets", () => {
    expect(Buffer.from(secret.slice("whsec_".length), "base64url")).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });
});

describe("webhookUrlProblem", () => {
  it.each([
    ["https://hooks.example.com/avtech", undefined],
    ["http://10.0.0.5:8080/hook", undefined],
    ["mailto:ops@example.com", "webhook.url must be http:// or https://, not mailto:"],
    ["/relative", 'webhook.url "/relative" is not an absolute URL: give one like https://hooks.example.com/avtech'],
  ])("%s", (url, problem) => {
    expect(webhookUrlProblem(url)).toBe(problem);
  });
});

describe("retryDelayMs", () => {
  const policy = { maxAttempts: 8, baseMs: 10_000, maxMs: 3_600_000 };
  it("draws from 0 up to a cap that doubles per attempt and stops at maxMs", () => {
    expect([1, 2, 3, 10].map((attempt) => retryDelayMs(attempt, policy, () => 0.999_999))).toEqual([
      9999, 19_999, 39_999, 3_599_996,
    ]);
    expect(retryDelayMs(3, policy, () => 0)).toBe(0);
  });
});
