import { CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { type ConnectResponse, ConnectResponseSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Clock } from "../../platform/clock.ts";
import type { CommandRecord, CommandStore, DesiredStateStore, ScreenStore } from "../fleet/ports.ts";
import type { SessionRegistry } from "../live/index.ts";

/** What the process knows about a stream it holds. */
interface Held {
  tenantId: string;
  tokenHash: string;
  /** Highest desired-state version sent on this stream (or acknowledged before it opened). */
  sentVersion: bigint;
}

/** Dependencies of {@link LiveDelivery}. */
export interface LiveDeliveryDeps {
  registry: SessionRegistry;
  screens: Pick<ScreenStore, "getMany">;
  desiredStates: Pick<DesiredStateStore, "newerThan">;
  commands: Pick<CommandStore, "queuedMany" | "update">;
  clock: Clock;
  /** Called when a command was sent or expired, so the fleet view can refresh. */
  onCommandDelivered?: (command: CommandRecord) => void;
}

/**
 * Brings the streams this process holds up to date: sends a newer desired state, sends queued
 * commands (expiring stale ones), and disconnects a screen whose token was revoked or which was
 * deleted. It re-reads everything from the stores, so a wake-up carries only screen ids and is
 * safe to repeat (from publish, SendCommand, LISTEN/NOTIFY or a listener reconnect).
 *
 * INVARIANTS: runs for one screen are serialised, so a command is sent at most once per stream.
 */
export class LiveDelivery {
  readonly #deps: LiveDeliveryDeps;
  readonly #held = new Map<string, Held>();
  readonly #runs = new Map<string, Promise<void>>();

  constructor(deps: LiveDeliveryDeps) {
    this.#deps = deps;
  }

  /** Remembers a newly attached stream (after Hello). */
  attached(screenId: string, held: Held): void {
    this.#held.set(screenId, held);
  }

  /** Forgets a stream unless a newer one of the same screen replaced it. */
  detached(screenId: string): void {
    if (!this.#deps.registry.holds(screenId)) this.#held.delete(screenId);
  }

  /** True when this process holds the screen's stream. */
  holds(screenId: string): boolean {
    return this.#held.has(screenId);
  }

  /**
   * Sends a just-stored desired state, already encoded, to the screen if this process holds its
   * stream and has not sent that version yet (publish's fast path: no re-read, and the document is
   * encoded once for the database and the stream). Check and send are synchronous, so an older
   * version can never overtake a newer one in the coalescing outbox.
   */
  offer(screenId: string, version: bigint, encoded: Uint8Array): boolean {
    const held = this.#held.get(screenId);
    if (!held || version <= held.sentVersion) return false;
    if (!this.#deps.registry.send(screenId, encodedDesiredState(encoded), "desired-state")) return false;
    held.sentVersion = version;
    return true;
  }

  /** Screen ids whose streams this process holds. */
  heldScreenIds(): string[] {
    return [...this.#held.keys()];
  }

  /**
   * Brings each held screen among `screenIds` up to date; ids this process does not hold are skipped. Screens are
   * read in batches of up to {@link deliveryBatchSize} (three queries a batch, not three per screen: a publish to
   * a large fleet wakes every other process with all its screens). A batch waits for the runs already under way
   * for any of its screens, so a screen's runs stay serialised.
   */
  async deliver(screenIds: Iterable<string>): Promise<void> {
    const held = [...new Set(screenIds)].filter((screenId) => this.#held.has(screenId));
    const runs: Promise<void>[] = [];
    for (let start = 0; start < held.length; start += deliveryBatchSize) {
      const batch = held.slice(start, start + deliveryBatchSize);
      // A failed earlier run (a database error) must not swallow this one.
      const previous = Promise.allSettled(batch.map((screenId) => this.#runs.get(screenId)));
      const run = previous.then(() => this.#deliverBatch(batch));
      for (const screenId of batch) this.#runs.set(screenId, run);
      // The caller sees a failure through `runs`; this cleanup chain must not report it a second time.
      void run
        .finally(() => {
          for (const screenId of batch) if (this.#runs.get(screenId) === run) this.#runs.delete(screenId);
        })
        .catch(() => {});
      runs.push(run);
    }
    await Promise.all(runs);
  }

  /** Re-checks every held stream (after a LISTEN reconnect, when notifications may have been lost). */
  deliverAll(): Promise<void> {
    return this.deliver(this.heldScreenIds());
  }

  async #deliverBatch(screenIds: readonly string[]): Promise<void> {
    const current = await this.#stillValid(screenIds.filter((screenId) => this.#deps.registry.holds(screenId)));
    if (current.length === 0) return;
    const sent = new Map<string, bigint>();
    for (const screenId of current) {
      const held = this.#held.get(screenId);
      if (held) sent.set(screenId, held.sentVersion);
    }
    const [newer, queued] = await Promise.all([
      this.#deps.desiredStates.newerThan(sent),
      this.#deps.commands.queuedMany(current),
    ]);
    for (const [screenId, { version, document }] of newer) this.offer(screenId, version, document);
    await Promise.all(current.map((screenId) => this.#sendCommands(screenId, queued.get(screenId) ?? [])));
  }

  /** The held screens among `screenIds` whose token is unchanged; the others are disconnected and forgotten. */
  async #stillValid(screenIds: readonly string[]): Promise<string[]> {
    const byTenant = new Map<string, string[]>();
    for (const screenId of screenIds) {
      const tenantId = this.#held.get(screenId)?.tenantId;
      if (tenantId === undefined) continue;
      const ids = byTenant.get(tenantId);
      if (ids) ids.push(screenId);
      else byTenant.set(tenantId, [screenId]);
    }
    const valid: string[] = [];
    for (const [tenantId, ids] of byTenant) {
      const screens = await this.#deps.screens.getMany(tenantId, ids);
      for (const screenId of ids) {
        const held = this.#held.get(screenId);
        if (!held) continue;
        if (screens.get(screenId)?.tokenHash === held.tokenHash) {
          valid.push(screenId);
          continue;
        }
        this.#deps.registry.disconnect(
          screenId,
          new ConnectError("device token revoked or screen deleted; register the screen again", Code.Unauthenticated),
        );
        this.#held.delete(screenId);
      }
    }
    return valid;
  }

  /** Sends the screen's queued commands oldest first, expiring stale ones; stops when the stream refuses one. */
  async #sendCommands(screenId: string, queued: readonly CommandRecord[]): Promise<void> {
    const now = this.#deps.clock.now();
    for (const command of queued) {
      if (command.expiresAt <= now) {
        await this.#deps.commands.update(screenId, command.id, { status: CommandStatus.EXPIRED, completedAt: now });
        this.#deps.onCommandDelivered?.({ ...command, status: CommandStatus.EXPIRED });
        continue;
      }
      const sent = this.#deps.registry.send(
        screenId,
        create(ConnectResponseSchema, {
          message: {
            case: "command",
            value: {
              commandId: command.id,
              kind: command.kind,
              issuedAt: timestampFromDate(command.issuedAt),
              expiresAt: timestampFromDate(command.expiresAt),
              identifySeconds: command.identifySeconds,
            },
          },
        }),
      );
      if (!sent) return;
      await this.#deps.commands.update(screenId, command.id, { status: CommandStatus.DELIVERED });
      this.#deps.onCommandDelivered?.({ ...command, status: CommandStatus.DELIVERED });
    }
  }
}

/** Screens read per delivery batch (bounds the arrays a query carries). */
export const deliveryBatchSize = 500;

const desiredStateField = ConnectResponseSchema.field.desiredState;

/**
 * A ConnectResponse whose `desired_state` is the given encoded DesiredState. protobuf-es writes
 * `$unknown` fields verbatim after the known ones (there are none here), so the bytes on the wire
 * are exactly those of `{ message: { case: "desiredState", value } }`; the receiver decodes it as
 * that, and the server skips encoding the same document once per stream.
 */
function encodedDesiredState(encoded: Uint8Array): ConnectResponse {
  const message = create(ConnectResponseSchema);
  message.$unknown = [
    {
      no: desiredStateField.number,
      wireType: WireType.LengthDelimited,
      data: new BinaryWriter().bytes(encoded).finish(),
    },
  ];
  return message;
}
