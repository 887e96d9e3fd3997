import { describe, expect, it } from "vitest";
import { killCampaign, seededRandom } from "./lib/kill-harness.ts";

describe("kill -9 during reconcile (fast form: 10 runs)", () => {
  it("never tears the state file, never shows a partial file, and converges after restarts", async () => {
    const seed = 42;
    const report = await killCampaign(10, 150, seededRandom(seed));
    expect(report.violations, `seed ${seed}`).toEqual([]);
    // Some runs finish before their random kill lands; most must be killed mid-way.
    expect(report.kills).toBeGreaterThanOrEqual(5);
    expect(report.finalVersion).toBe(11n);
  }, 120_000);
});
