import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { RequestLimiter, TokenBuckets } from "./token-bucket.ts";

describe("TokenBuckets", () => {
  it("allows a burst, refuses the next one, and refills over time", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 3, perSecond: 1 }, () => now);
    expect([buckets.take("a"), buckets.take("a"), buckets.take("a"), buckets.take("a")]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(buckets.take("b")).toBe(true);
    now = 1000;
    expect(buckets.take("a")).toBe(true);
    expect(buckets.take("a")).toBe(false);
  });
});

describe("RequestLimiter", () => {
  it("limits each address and everyone together with RESOURCE_EXHAUSTED", () => {
    const limiter = new RequestLimiter(
      { perIp: { burst: 2, perSecond: 0 }, global: { burst: 3, perSecond: 0 } },
      () => 0,
    );
    limiter.check("10.0.0.1");
    limiter.check("10.0.0.1");
    expect(() => limiter.check("10.0.0.1")).toThrow(/too many requests from this address/);
    limiter.check("10.0.0.2");
    try {
      limiter.check("10.0.0.3");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.ResourceExhausted);
    }
  });
});
