import { describe, expect, it } from "vitest";
import { killCampaign, seededRandom } from "./lib/kill-harness.ts";

describe("kill -9 during reconcile (full form: 100 runs)", () => {
  it("never tears the state file, never shows a partial file, and converges after restarts", async () => {
    const seed = Date.now();
    const report = await killCampaign(100, 150, seededRandom(seed));
    expect(report.violations, `seed ${seed}`).toEqual([]);
    // Some runs finish before their random kill lands; most must be killed mid-way.
    expect(report.kills).toBeGreaterThanOrEqual(60);
    expect(report.finalVersion).toBe(101n);
  }, 900_000);
});
