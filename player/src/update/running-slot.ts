import type { Logger } from "pino";
import { type Clock, sleep } from "../lib/index.ts";
import { isAbortError, messageOf } from "../storage/index.ts";
import { type HealthProbe, type Rauc, type RaucStatus, RaucUnavailable } from "./types.ts";

/** Dependencies of {@link confirmRunningSlot}. */
export interface RunningSlotDeps {
  rauc: Pick<Rauc, "status" | "markGood">;
  health: HealthProbe;
  /** True when the booted slot is a new one an installed update still has to confirm (its health gate does). */
  awaitsUpdateGate: (status: RaucStatus) => boolean;
  clock: Clock;
  logger: Logger;
  /** Health poll period; default 5 000 ms. */
  pollMs?: number;
  /** After RAUC refused or did not answer; default 60 000 ms. */
  retryMs?: number;
}

/** How {@link confirmRunningSlot} ended. */
export type RunningSlotOutcome = "marked good" | "left to the update's health gate" | "no RAUC" | "stopped";

/**
 * Marks the running slot good (`rauc status mark-good`) once per start, as soon as the screen is healthy by the
 * update health gate's own measure: registered, stream up, playing. Every boot spends one of the slot's
 * bootloader tries (image/boot/boot.cmd); without this only an update's gate gave them back, so an image's slot
 * took U-Boot's "no slot has a try left" reset every third boot, and a long download cut by power failures spent
 * them too. A new slot on its trial boot is left alone: its update's gate decides, and a slot that never becomes
 * healthy is never marked, so the bootloader still falls back from it.
 */
export async function confirmRunningSlot(deps: RunningSlotDeps, signal: AbortSignal): Promise<RunningSlotOutcome> {
  const { rauc, health, clock, logger } = deps;
  const pollMs = deps.pollMs ?? 5_000;
  const retryMs = deps.retryMs ?? 60_000;
  try {
    for (;;) {
      while (!(health.registered() && health.streamUp() && health.playing())) await sleep(clock, pollMs, signal);
      let status: RaucStatus;
      try {
        status = await rauc.status();
      } catch (error) {
        if (error instanceof RaucUnavailable && error.missing) return "no RAUC";
        logger.debug({ err: messageOf(error) }, "RAUC did not answer; the running slot is marked good later");
        await sleep(clock, retryMs, signal);
        continue;
      }
      if (deps.awaitsUpdateGate(status)) return "left to the update's health gate";
      try {
        await rauc.markGood();
        logger.info({ slot: status.booted }, "healthy: the running slot is marked good");
        return "marked good";
      } catch (error) {
        logger.warn({ err: messageOf(error), slot: status.booted }, "could not mark the running slot good; will retry");
        await sleep(clock, retryMs, signal);
      }
    }
  } catch (error) {
    if (isAbortError(error) || signal.aborted) return "stopped";
    throw error;
  }
}
