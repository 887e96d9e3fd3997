import { type Logger, pino } from "pino";
import type { Config } from "./config/index.ts";

/** The process logger: JSON lines on stdout at the configured level. */
export function createLogger(config: Pick<Config, "logLevel">): Logger {
  return pino({ name: "avtech-control-plane", level: config.logLevel });
}
