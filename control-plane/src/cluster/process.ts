import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";

/** How a child process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process the cluster started, with its output appended to a log file. */
export interface ManagedProcess {
  readonly pid: number;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** True until {@link exited} resolves. */
  running(): boolean;
  /** Sends `signal` (no-op when it already exited). */
  kill(signal: NodeJS.Signals): void;
  /**
   * Sends SIGTERM, waits up to `graceMs` (default 15 s) for the exit, then SIGKILL: nothing is
   * left running after it resolves.
   */
  stop(graceMs?: number): Promise<ProcessExit>;
}

/**
 * Starts `command` with stdout and stderr appended to `logFile`; rejects if it cannot be spawned.
 * With `parentDeathSignal` it runs under `setpriv --pdeathsig` (util-linux, which execs it: the pid is
 * the command's), so the kernel sends it that signal when this process dies, however it dies: a bench
 * killed with SIGKILL leaves no replica or balancer behind. A missing command then shows as an early
 * exit with setpriv's message in the log, not as a rejection.
 */
export async function startProcess(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; logFile: string; parentDeathSignal?: NodeJS.Signals },
): Promise<ManagedProcess> {
  const log = createWriteStream(options.logFile, { flags: "a" });
  const argv = options.parentDeathSignal
    ? ["setpriv", "--pdeathsig", options.parentDeathSignal.replace(/^SIG/, ""), "--", command, ...args]
    : [command, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), { env: options.env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (error) => reject(new Error(`could not start ${command}: ${error.message}`, { cause: error })));
  });
  let alive = true;
  const exited = new Promise<ProcessExit>((resolve) =>
    child.once("exit", (code, signal) => {
      alive = false;
      log.end();
      resolve({ code, signal });
    }),
  );
  const kill = (signal: NodeJS.Signals) => {
    if (alive) child.kill(signal);
  };
  return {
    pid: child.pid ?? -1,
    exited,
    running: () => alive,
    kill,
    async stop(graceMs = 15_000) {
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
