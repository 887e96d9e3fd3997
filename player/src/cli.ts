#!/usr/bin/env node
import { readFile } from "node:fs/promises";
import pino from "pino";
import { parsePlayerArgs, playerUsage, UsageError } from "./cli-args.ts";
import { ConfigError, loadConfig } from "./config/index.ts";
import { formatChecks, runDoctor } from "./doctor/index.ts";
import { startPlayer, statusIntervalMs } from "./main.ts";
import { formatStatus, readStatus } from "./status/index.ts";
import { stateLayout } from "./storage/index.ts";

async function main(argv: string[]): Promise<number> {
  const args = parsePlayerArgs(argv);
  if (args.help) {
    process.stdout.write(playerUsage);
    return args.asked ? 0 : 2;
  }
  const { command } = args;
  const config = await loadConfig(args.configPath);
  switch (command) {
    case "run": {
      const logger = pino({ level: process.env.LOG_LEVEL ?? config.logLevel });
      const player = await startPlayer(config, { logger, env: process.env });
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      logger.info("stopping");
      await player.stop();
      return 0;
    }
    case "status": {
      const snapshot = await readStatus(stateLayout(config.dataDir, config.mediaDir).statusFile);
      if (!snapshot) throw new UsageError(`no status under ${config.dataDir}: the player has not run with this config`);
      process.stdout.write(formatStatus(snapshot, new Date(), statusIntervalMs));
      return 0;
    }
    case "doctor": {
      const ca = config.caCertPath ? await readFile(config.caCertPath, "utf8") : undefined;
      const checks = await runDoctor(config, { ca });
      process.stdout.write(formatChecks(checks));
      return checks.some((c) => c.result === "fail") ? 1 : 0;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (
      error instanceof ConfigError ||
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      process.stderr.write(`avtech-player: ${(error as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`avtech-player: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
