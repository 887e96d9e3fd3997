import type { Logger } from "pino";
import type { Clock, TimerHandle } from "../lib/index.ts";
import type { NotifySender } from "./notify-socket.ts";
import type { CommandRunner } from "./process.ts";

/** Tells systemd about the service (Type=notify, WatchdogSec). */
export interface SystemdNotifier {
  /** True when systemd listens (NOTIFY_SOCKET is set); otherwise every call is a no-op. */
  readonly enabled: boolean;
  ready(): Promise<void>;
  watchdogPing(): Promise<void>;
  /** A one-line status `systemctl status` shows. */
  status(text: string): Promise<void>;
}

/** Options of {@link createSystemdNotifier}. */
export interface SystemdNotifierOptions {
  /** Runs `systemd-notify` when no `sender` is given. */
  spawn: CommandRunner;
  /** Sends from one long-lived process ({@link startNotifySocketSender}); preferred, see there. */
  sender?: NotifySender;
  /** The process environment (NOTIFY_SOCKET comes from it). */
  env: NodeJS.ProcessEnv;
  /** Default "systemd-notify". */
  command?: string;
}

/**
 * Node cannot send unix datagrams, so notifications leave through a child process: the `sender`
 * when given, else one `systemd-notify` per message. Either way the sender's pid is not the
 * service's main pid, which is why the unit needs `NotifyAccess=all`. Outside systemd (no
 * NOTIFY_SOCKET: tests, a developer's shell) nothing is spawned.
 */
export function createSystemdNotifier(options: SystemdNotifierOptions): SystemdNotifier {
  const command = options.command ?? "systemd-notify";
  const socket = options.env.NOTIFY_SOCKET;
  const enabled = typeof socket === "string" && socket !== "";
  const env = { ...options.env };
  const send = async (assignment: string) => {
    if (!enabled) return;
    if (options.sender) await options.sender.send(assignment);
    else await options.spawn.run(command, [assignment], { env });
  };
  return {
    enabled,
    ready: () => send("READY=1"),
    watchdogPing: () => send("WATCHDOG=1"),
    // systemd reads one line per assignment: a newline would end the status early.
    status: (text) => send(`STATUS=${text.replace(/\s+/g, " ").trim()}`),
  };
}

/** Options of {@link startWatchdogLoop}. */
export interface WatchdogLoopOptions {
  notifier: SystemdNotifier;
  /** Each must hold for a ping (mpv supervision, the player's main loop, …). */
  healthy: readonly (() => boolean)[] | (() => boolean);
  /** Half of WatchdogSec or less (systemd passes WATCHDOG_USEC). */
  intervalMs: number;
  clock: Clock;
  logger: Logger;
}

/**
 * Pings the systemd watchdog every `intervalMs` while every health predicate holds; when one
 * fails it stays silent, so systemd restarts the player after WatchdogSec. Because the loop runs
 * on the event loop, a blocked event loop also stops the pings. Returns a stop function.
 */
export function startWatchdogLoop(options: WatchdogLoopOptions): () => void {
  const predicates = typeof options.healthy === "function" ? [options.healthy] : options.healthy;
  let timer: TimerHandle | undefined;
  let stopped = false;
  let wasHealthy = true;
  const tick = async () => {
    const failing = predicates.findIndex((predicate) => !predicate());
    if (failing < 0) {
      if (!wasHealthy) options.logger.info("healthy again; resuming watchdog pings");
      wasHealthy = true;
      try {
        await options.notifier.watchdogPing();
      } catch (error) {
        options.logger.warn({ err: error }, "could not ping the systemd watchdog");
      }
    } else if (wasHealthy) {
      wasHealthy = false;
      options.logger.warn({ predicate: failing }, "unhealthy; withholding systemd watchdog pings");
    }
    if (!stopped) timer = options.clock.setTimeout(() => void tick(), options.intervalMs);
  };
  void tick();
  return () => {
    stopped = true;
    timer?.cancel();
  };
}
