import { parseArgs } from "node:util";
import { defaultConfigPath } from "./config/index.ts";

/** The commands of `avtech-player`. */
export const playerCommands = ["run", "status", "doctor"] as const;
/** One of {@link playerCommands}. */
export type PlayerCommand = (typeof playerCommands)[number];

/** The usage text `avtech-player --help` prints. */
export const playerUsage = `usage: avtech-player <command> [--config <path>]

commands:
  run      play and stay in sync with the control plane (what systemd runs)
  status   what the running player is doing: link, versions, current item, disk, last errors
  doctor   check config, DNS, TCP/TLS reachability, clock skew, display and free space

options:
  --config <path>   the config file (default ${defaultConfigPath})
`;

/** An operator mistake: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A parsed command line: help (`asked` false when no command was given), or a command with its config path. */
export type PlayerArgs =
  | { help: true; asked: boolean; command: undefined }
  | { help: false; command: PlayerCommand; configPath: string };

/**
 * Parses `avtech-player` arguments (without node and the script). `--help`/`-h` or no command
 * is help; an unknown option throws Node's ERR_PARSE_ARGS_* error and an unknown command or an
 * extra argument a {@link UsageError}, both exit code 2 in the CLI. The runbook test parses every
 * `avtech-player` command of docs/runbooks with this function.
 */
export function parsePlayerArgs(argv: readonly string[]): PlayerArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { config: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const command = positionals[0];
  if (values.help || command === undefined) return { help: true, asked: values.help === true, command: undefined };
  if (!(playerCommands as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}"\n\n${playerUsage}`);
  }
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument "${positionals[1]}"\n\n${playerUsage}`);
  }
  return { help: false, command: command as PlayerCommand, configPath: values.config ?? defaultConfigPath };
}
