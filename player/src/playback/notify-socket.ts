import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import type { Logger } from "pino";

/** Delivers one notification assignment ("WATCHDOG=1") to systemd's notify socket. */
export interface NotifySender {
  send(assignment: string): Promise<void>;
  /** Ends the sending process; later sends start a new one. */
  close(): void;
}

/** Options of {@link startNotifySocketSender}. */
export interface NotifySocketSenderOptions {
  /** NOTIFY_SOCKET: a path, or "@name" for the abstract namespace. */
  socket: string;
  logger: Logger;
  /** Default "perl". */
  perl?: string;
  /** Used for every message once perl cannot be started at all (ENOENT): one `systemd-notify` per message. */
  fallback: (assignment: string) => Promise<void>;
}

/**
 * Reads one assignment per line and sends each as one datagram. Perl, because Node cannot send unix
 * datagrams and perl-base is Essential in Debian and Raspberry Pi OS (it is on every root we run on).
 */
const senderScript = String.raw`
use strict;
use Socket;
my $path = $ENV{AVTECH_NOTIFY_SOCKET};
$path =~ s/^\@/\0/;
socket(my $sock, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
my $to = pack_sockaddr_un($path);
$| = 1;
while (my $line = <STDIN>) {
  chomp $line;
  defined(send($sock, $line, 0, $to)) or print STDERR "send to $ENV{AVTECH_NOTIFY_SOCKET}: $!\n";
}
`;

/**
 * Sends notifications from ONE long-lived child process instead of a `systemd-notify` per message.
 * systemd attributes a notification to a unit by the sender's cgroup, read from /proc/<pid> when it
 * handles the datagram; `systemd-notify` exits at once, so a busy systemd (a loaded Pi, an emulator)
 * finds the pid gone and drops the message (sd_notify(3), systemd issue #2737), which loses watchdog
 * pings and gets a healthy player killed. A sender that stays alive is always found. It is started on
 * the first send and again after it exits.
 */
export function startNotifySocketSender(options: NotifySocketSenderOptions): NotifySender {
  const { logger } = options;
  let child: ChildProcessWithoutNullStreams | undefined;
  let perlMissing = false;

  const start = (): ChildProcessWithoutNullStreams => {
    const started = spawn(options.perl ?? "perl", ["-e", senderScript], {
      env: { AVTECH_NOTIFY_SOCKET: options.socket, PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    started.stderr.setEncoding("utf8");
    started.stderr.on("data", (text: string) => logger.warn({ stderr: text.trim() }, "notify socket sender"));
    started.stdin.on("error", () => undefined);
    started.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") perlMissing = true;
      logger.warn({ err: error.message }, "could not start the notify socket sender");
    });
    started.on("exit", (code, signal) => {
      if (child === started) child = undefined;
      // SIGTERM is systemd stopping the whole unit, the player with it: nothing to report.
      if (code !== 0 && signal !== "SIGTERM") logger.warn({ code, signal }, "the notify socket sender exited");
    });
    return started;
  };

  return {
    async send(assignment) {
      if (perlMissing) return options.fallback(assignment);
      child ??= start();
      const writing = child;
      await new Promise<void>((resolve, reject) => {
        writing.stdin.write(`${assignment.replace(/\n/g, " ")}\n`, (error) => (error ? reject(error) : resolve()));
      }).catch(async (error: unknown) => {
        if (child === writing) child = undefined;
        // The spawn error event comes after the failed write: give it its turn before deciding.
        await new Promise((resolve) => setImmediate(resolve));
        if (perlMissing) return options.fallback(assignment);
        throw error;
      });
    },
    close() {
      child?.stdin.end();
      child = undefined;
    },
  };
}
