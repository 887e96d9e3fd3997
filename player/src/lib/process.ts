import { execFile } from "node:child_process";

/** Outcome of a finished command. */
export interface RunResult {
  /** Exit code; -1 when it could not start (e.g. ENOENT: not installed). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs system commands (systemctl, vcgencmd, timedatectl), injected so tests never reboot the host. */
export interface ProcessRunner {
  run(command: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<RunResult>;
}

/** The real runner (execFile, no shell). Never rejects: a missing command is code -1. Timeout default 10 s. */
export const execRunner: ProcessRunner = {
  run(command, args, options = {}) {
    return new Promise((resolve) => {
      execFile(
        command,
        [...args],
        { timeout: options.timeoutMs ?? 10_000, encoding: "utf8" },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
          resolve({ code, stdout, stderr: stderr || (error && code === -1 ? error.message : "") });
        },
      );
    });
  },
};
