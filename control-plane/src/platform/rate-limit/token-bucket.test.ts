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

  it("tells how long until the next token", () => {
    let now = 0;
    const buckets = new TokenBuckets({ burst: 1, perSecond: 0.25 }, () => now);
    expect(buckets.acquire("a")).toBe(0);
    expect(buckets.acquire("a")).toBe(4000);
    now = 3000;
    expect(buckets.acquire("a")).toBe(1000);
    expect(new TokenBuckets({ burst: 0, perSecond: 0 }).acquire("a")).toBe(Infinity);
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
    expect(() => limiter.check("10.0.0.1")).toThrow(/too many requests from this address; retry much later/);
    limiter.check("10.0.0.2");
    try {
      limiter.check("10.0.0.3");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.ResourceExhausted);
    }
  });

  it("says in whole seconds when to retry, and names what the server is busy with", () => {
    const limiter = new RequestLimiter(
      { perIp: { burst: 1, perSecond: 0.4 }, global: { burst: 2, perSecond: 0.1 } },
      () => 0,
      "with sign-ins",
    );
    limiter.check("10.0.0.1");
    expect(() => limiter.check("10.0.0.1")).toThrow("too many requests from this address; retry in 3 s (with backoff)");
    limiter.check("10.0.0.2");
    expect(() => limiter.check("10.0.0.3")).toThrow("the control plane is busy with sign-ins; retry in 10 s");
  });
});
