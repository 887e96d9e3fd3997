import { describe, expect, it } from "vitest";
import { RestartPolicy } from "./restart-policy.ts";

describe("RestartPolicy", () => {
  it("doubles the delay from 100 ms to a 10 s cap and then reports a crash loop", () => {
    const policy = new RestartPolicy();
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) delays.push(policy.failed(i * 1_000, undefined));
    expect(delays).toEqual([100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]);
    expect(policy.crashLoop).toBe(true);
    expect(policy.restartsLastHour(9_000)).toBe(9);
  });

  it("starts over at 100 ms after a stable run", () => {
    const policy = new RestartPolicy({ stableMs: 30_000 });
    policy.failed(0, undefined);
    policy.failed(1_000, 500);
    expect(policy.failed(60_000, 20_000)).toBe(100);
    expect(policy.crashLoop).toBe(false);
  });

  it("clears the crash loop once mpv runs stably", () => {
    const policy = new RestartPolicy({ initialMs: 100, maxMs: 400 });
    for (let i = 0; i < 4; i++) policy.failed(i, undefined);
    expect(policy.crashLoop).toBe(true);
    policy.stable();
    expect(policy.crashLoop).toBe(false);
  });

  it("counts only the restarts of the past hour", () => {
    const policy = new RestartPolicy();
    policy.failed(0, undefined);
    policy.failed(1_000, undefined);
    expect(policy.restartsLastHour(3_600_500)).toBe(1);
    expect(policy.restartsLastHour(3_601_000)).toBe(0);
  });
});
