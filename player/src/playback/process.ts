import { spawn as spawnChild } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Duplex } from "node:stream";

/** How an mpv process ended; `error` when it could not be started at all. */
export interface MpvExit {
  code: number | null;
  signal: string | null;
  error?: Error;
}

/** A running mpv, as the supervisor sees it. */
export interface MpvChild {
  readonly pid: number | undefined;
  /** The IPC connection (mpv's fd 3, `--input-ipc-client=fd://3`). */
  readonly ipc: Duplex;
  kill(signal: NodeJS.Signals): void;
  /** Called once when the process exits or could not be started (at once if it already has). */
  onExit(listener: (exit: MpvExit) => void): void;
}

/** Starts mpv and finds stale ones; the supervisor's only way to touch processes. */
export interface MpvSpawner {
  spawn(command: string, args: readonly string[]): MpvChild;
  /** Kills `pid` with SIGKILL if it is an mpv (a leftover of a crashed player); otherwise does nothing. */
  killStale(pid: number): void;
}

/** Runs a short command to completion (ffmpeg for slates, systemd-notify). */
export interface CommandRunner {
  run(command: string, args: readonly string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<void>;
}

/**
 * The real spawner. mpv gets one end of a socketpair as fd 3 and speaks IPC on it; when the
 * player dies the socket closes and mpv quits ("The player quits when the connection is
 * closed"), so a crashed player leaves no orphan holding the display.
 */
export const nodeMpvSpawner: MpvSpawner = {
  spawn(command, args) {
    const child = spawnChild(command, [...args, "--input-ipc-client=fd://3"], {
      stdio: ["ignore", "ignore", "ignore", "pipe"],
    });
    const ipc = child.stdio[3] as Duplex;
    let exited: MpvExit | undefined;
    const listeners: ((exit: MpvExit) => void)[] = [];
    const emit = (exit: MpvExit) => {
      if (exited) return;
      exited = exit;
      for (const listener of listeners) listener(exit);
    };
    child.on("exit", (code, signal) => emit({ code, signal }));
    child.on("error", (error) => emit({ code: null, signal: null, error }));
    return {
      pid: child.pid,
      ipc,
      kill(signal) {
        child.kill(signal);
      },
      onExit(listener) {
        if (exited) listener(exited);
        else listeners.push(listener);
      },
    };
  },
  killStale(pid) {
    let name: string;
    try {
      name = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      return;
    }
    if (name !== "mpv") return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone between the check and the kill: nothing left to clean up.
    }
  },
};

/** The real command runner: rejects with the command's stderr tail when it fails. */
export const nodeCommandRunner: CommandRunner = {
  run(command, args, options = {}) {
    return new Promise((resolve, reject) => {
      const child = spawnChild(command, [...args], {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-2_000);
      });
      child.on("error", (error) => reject(new Error(`could not run ${command}: ${error.message}`, { cause: error })));
      child.on("close", (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`${command} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
      });
    });
  },
};
