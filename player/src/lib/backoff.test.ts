import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff.ts";

describe("Backoff", () => {
  it("draws each delay uniformly under a cap that doubles up to the maximum (full jitter)", () => {
    const top = new Backoff({ initialMs: 1_000, maxMs: 300_000, random: () => 0.999999 });
    const caps = Array.from({ length: 12 }, () => top.next());
    expect(caps).toEqual([999, 1999, 3999, 7999, 15999, 31999, 63999, 127999, 255999, 299999, 299999, 299999]);
    const bottom = new Backoff({ random: () => 0 });
    expect(bottom.next()).toBe(0);
  });

  it("starts over after reset", () => {
    const backoff = new Backoff({ initialMs: 1_000, random: () => 0.5 });
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.attempt).toBe(0);
    expect(backoff.next()).toBe(500);
  });
});
