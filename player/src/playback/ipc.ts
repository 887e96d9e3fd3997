import type { Duplex } from "node:stream";
import type { Clock, TimerHandle } from "../lib/index.ts";

/** An asynchronous message mpv sends on its own (`start-file`, `end-file`, `property-change`, …). */
export interface MpvEvent {
  event: string;
  /** Set on start-file / end-file. */
  playlist_entry_id?: number;
  /** Set on end-file: "eof", "stop", "quit", "error", "redirect". */
  reason?: string;
  /** Set on property-change. */
  name?: string;
  data?: unknown;
  [key: string]: unknown;
}

/** mpv answered a command with an error (e.g. "property unavailable"). */
export class MpvCommandError extends Error {
  override name = "MpvCommandError";
}

/** mpv did not answer a command in time: it hangs (SIGSTOP, deadlock) or is gone. */
export class MpvIpcTimeoutError extends Error {
  override name = "MpvIpcTimeoutError";
}

/** The IPC connection closed before mpv answered. */
export class MpvIpcClosedError extends Error {
  override name = "MpvIpcClosedError";
}

/** A JSON-IPC connection to one mpv process. */
export interface MpvIpc {
  /** Sends `args` as one mpv command and resolves with its `data`; rejects after `timeoutMs`. */
  command(args: readonly unknown[], timeoutMs?: number): Promise<unknown>;
  /** Subscribes to mpv events; returns an unsubscribe function. */
  onEvent(listener: (event: MpvEvent) => void): () => void;
  /** Closes the connection; pending commands reject with {@link MpvIpcClosedError}. */
  close(): void;
}

interface Pending {
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timer: TimerHandle;
}

/** Default wait for a command's reply; the watchdog treats a slower mpv as hung. */
export const defaultCommandTimeoutMs = 2_000;

/**
 * Speaks mpv's JSON IPC over `stream` (a socketpair end passed as `--input-ipc-client=fd://3`, or
 * a connected `--input-ipc-server` socket). Messages are newline-delimited JSON; a reply may be
 * split across reads or several may arrive in one read, so bytes are buffered up to each newline.
 * This framing is what node-mpv 1.5 gets wrong (see player/README.md, "Playback").
 */
export function createMpvIpc(stream: Duplex, clock: Clock): MpvIpc {
  const pending = new Map<number, Pending>();
  const listeners = new Set<(event: MpvEvent) => void>();
  let nextId = 1;
  let buffered = "";
  let closed = false;

  const failAll = (error: Error) => {
    for (const [id, p] of pending) {
      pending.delete(id);
      p.timer.cancel();
      p.reject(error);
    }
  };

  const handleLine = (line: string) => {
    if (line.trim() === "") return;
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // mpv only writes JSON; a bad line means a corrupt stream, which the next command's
      // timeout turns into a restart. Throwing here would kill the player instead.
      return;
    }
    if (typeof message.event === "string") {
      for (const listener of listeners) listener(message as MpvEvent);
      return;
    }
    const id = message.request_id;
    if (typeof id !== "number") return;
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    p.timer.cancel();
    if (message.error === "success") p.resolve(message.data);
    else p.reject(new MpvCommandError(`mpv refused the command: ${String(message.error)}`));
  };

  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      handleLine(line);
      newline = buffered.indexOf("\n");
    }
  });
  const onGone = () => {
    closed = true;
    failAll(new MpvIpcClosedError("the mpv IPC connection closed"));
  };
  stream.on("close", onGone);
  stream.on("end", onGone);
  // A socket error is followed by "close"; without a listener it would crash the process.
  stream.on("error", () => {});

  return {
    command(args, timeoutMs = defaultCommandTimeoutMs) {
      if (closed) return Promise.reject(new MpvIpcClosedError("the mpv IPC connection is closed"));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = clock.setTimeout(() => {
          pending.delete(id);
          reject(new MpvIpcTimeoutError(`mpv did not answer "${String(args[0])}" within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        stream.write(`${JSON.stringify({ command: args, request_id: id })}\n`);
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      if (!closed) stream.destroy();
      onGone();
    },
  };
}
