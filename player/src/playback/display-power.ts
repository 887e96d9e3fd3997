import type { Logger } from "pino";
import type { CommandRunner } from "./process.ts";

/** Switches the physical display's power (HDMI output) on or off. */
export interface DisplayPower {
  /** Idempotent. Resolves even when the display cannot be switched (that is logged): the black slate still shows. */
  set(on: boolean): Promise<void>;
}

/** Options of {@link createDisplayPower}. */
export interface DisplayPowerOptions {
  runner: CommandRunner;
  logger: Logger;
  /** Default "vcgencmd" (Raspberry Pi firmware tools, on the PATH of Raspberry Pi OS). */
  vcgencmdPath?: string;
}

/**
 * Display power through `vcgencmd display_power 0|1` on a Raspberry Pi. Where vcgencmd does
 * not exist (a PC, a test machine) it logs once and does nothing: the schedule shows a black
 * "display off" slate outside display hours either way, so the screen shows nothing even
 * when it stays powered. A failing vcgencmd is logged, not thrown, for the same reason.
 */
export function createDisplayPower(options: DisplayPowerOptions): DisplayPower {
  const vcgencmd = options.vcgencmdPath ?? "vcgencmd";
  const log = options.logger.child({ component: "display-power" });
  let available = true;
  return {
    async set(on) {
      if (!available) {
        log.info({ on }, "display power: no vcgencmd; showing the display-off slate only");
        return;
      }
      try {
        await options.runner.run(vcgencmd, ["display_power", on ? "1" : "0"]);
        log.info({ on }, "display power switched");
      } catch (error) {
        if (isNotFound(error)) {
          available = false;
          log.info(
            { on, vcgencmd },
            "display power: vcgencmd not found (not a Raspberry Pi?); the display stays powered and shows the display-off slate outside display hours",
          );
          return;
        }
        log.warn({ err: error, on }, "display power: vcgencmd failed; the display-off slate still shows");
      }
    },
  };
}

function isNotFound(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return typeof cause === "object" && cause !== null && (cause as { code?: unknown }).code === "ENOENT";
}
