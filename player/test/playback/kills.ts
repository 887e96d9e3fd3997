import { expect } from "vitest";
import { alive, type Harness, waitFor } from "./fixtures.ts";

/**
 * Kills the playing mpv with SIGKILL `times` times; after each kill waits until a new mpv
 * plays video again (its first `playback-restart`) and returns each recovery time in ms. Waits
 * `settleMs` of playing between kills so each kill hits an mpv that was running.
 */
export async function killRepeatedly(h: Harness, times: number, settleMs: number): Promise<number[]> {
  const recoveries: number[] = [];
  for (let i = 0; i < times; i++) {
    const pid = h.readyPid();
    expect(pid).toBeTypeOf("number");
    const killedAt = Date.now();
    process.kill(pid as number, "SIGKILL");
    await waitFor(
      `mpv to play again after kill ${i + 1}`,
      () => {
        const now = h.readyPid();
        return now !== undefined && now !== pid && h.events("playback-restart", now).length > 0;
      },
      5_000,
    );
    recoveries.push(Date.now() - killedAt);
    expect(alive(pid as number)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
  }
  return recoveries;
}
