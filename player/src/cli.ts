#!/usr/bin/env node
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import pino from "pino";
import { ConfigError, defaultConfigPath, loadConfig } from "./config/index.ts";
import { formatChecks, runDoctor } from "./doctor/index.ts";
import { startPlayer, statusIntervalMs } from "./main.ts";
import { formatStatus, readStatus } from "./status/index.ts";
import { stateLayout } from "./storage/index.ts";

const usage = `usage: avtech-player <command> [--config <path>]

commands:
  run      play and stay in sync with the control plane (what systemd runs)
  status   what the running player is doing: link, versions, current item, disk, last errors
  doctor   check config, DNS, TCP/TLS reachability, clock skew, display and free space

options:
  --config <path>   the config file (default ${defaultConfigPath})
`;

/** An operator mistake: printed without a stack, exit code 2. */
class UsageError extends Error {
  override name = "UsageError";
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const command = positionals[0];
  if (values.help || command === undefined) {
    process.stdout.write(usage);
    return command === undefined && !values.help ? 2 : 0;
  }
  const config = await loadConfig(values.config ?? defaultConfigPath);
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
    default:
      throw new UsageError(`unknown command "${command}"\n\n${usage}`);
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
