import { randomUUID } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Command, CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { type ConnectRequest, ConnectRequestSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Clock } from "../lib/index.ts";
import type { Playback } from "../playback/types.ts";
import { messageOf } from "../storage/index.ts";
import type { Rebooter } from "../update/index.ts";

/** Screenshot chunk size: the contract's maximum. */
export const screenshotChunkBytes = 256 * 1024;

/** Exit code that makes systemd restart the player (Restart=always; distinct from a crash in the journal). */
export const restartExitCode = 75;

/** What commands act on. */
export interface CommandDeps {
  playback: Playback;
  rebooter: Rebooter;
  clock: Clock;
  /** Re-verify the cache and re-apply the desired state. */
  resync(): Promise<void>;
  /** Delete every cached asset the current and target states do not need; returns how many. */
  clearCache(): Promise<number>;
  /** Ends the process so systemd restarts it. */
  exit(code: number): void;
  /** The screen name for IDENTIFY. */
  screenName(): string;
  /** A folder for the screenshot's temp file. */
  tmpDir: string;
}

/**
 * Runs one command and sends its outcome (and for SCREENSHOT, the PNG in ≤ 256 KiB chunks
 * before the result). A command received after its expires_at is not run: EXPIRED.
 * RESTART_PLAYER reports SUCCEEDED first, because afterwards nobody can; REBOOT reports it once the reboot is
 * requested (systemd's orderly shutdown, which follows, leaves the stream time to send it).
 */
export async function runCommand(
  command: Command,
  deps: CommandDeps,
  send: (msg: ConnectRequest) => void,
): Promise<void> {
  const result = (status: CommandStatus, message: string) =>
    send(
      create(ConnectRequestSchema, {
        message: {
          case: "commandResult",
          value: {
            commandId: command.commandId,
            status,
            message,
            completedAt: timestampFromDate(deps.clock.now()),
          },
        },
      }),
    );
  if (command.expiresAt && timestampDate(command.expiresAt) < deps.clock.now()) {
    result(CommandStatus.EXPIRED, `received after it expired at ${timestampDate(command.expiresAt).toISOString()}`);
    return;
  }
  try {
    switch (command.kind) {
      case CommandKind.REBOOT: {
        await deps.rebooter.reboot();
        result(CommandStatus.SUCCEEDED, "rebooting");
        return;
      }
      case CommandKind.RESTART_PLAYER:
        result(CommandStatus.SUCCEEDED, "restarting the player");
        deps.exit(restartExitCode);
        return;
      case CommandKind.RESYNC:
        await deps.resync();
        result(CommandStatus.SUCCEEDED, "cache verified and desired state re-applied");
        return;
      case CommandKind.IDENTIFY: {
        const seconds = command.identifySeconds || 10;
        await deps.playback.identify(deps.screenName(), seconds);
        result(CommandStatus.SUCCEEDED, `showed the screen name for ${seconds} s`);
        return;
      }
      case CommandKind.CLEAR_CACHE: {
        const removed = await deps.clearCache();
        result(CommandStatus.SUCCEEDED, `removed ${removed} cached assets`);
        return;
      }
      case CommandKind.SCREENSHOT: {
        const path = join(deps.tmpDir, `avtech-screenshot-${randomUUID()}.png`);
        try {
          await deps.playback.screenshot(path);
          const png = await readFile(path);
          for (let offset = 0; offset < png.length || offset === 0; offset += screenshotChunkBytes) {
            const data = png.subarray(offset, offset + screenshotChunkBytes);
            send(
              create(ConnectRequestSchema, {
                message: {
                  case: "screenshotChunk",
                  value: {
                    commandId: command.commandId,
                    offset: BigInt(offset),
                    data,
                    last: offset + screenshotChunkBytes >= png.length,
                    totalBytes: BigInt(png.length),
                  },
                },
              }),
            );
          }
        } finally {
          await rm(path, { force: true });
        }
        result(CommandStatus.SUCCEEDED, "screenshot sent");
        return;
      }
      default:
        result(CommandStatus.FAILED, `unknown command kind ${command.kind}; update the player`);
    }
  } catch (error) {
    result(CommandStatus.FAILED, messageOf(error));
  }
}
