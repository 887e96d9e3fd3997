import { randomUUID } from "node:crypto";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  type PlayEvent,
  PlayEventSchema,
  type PlayEvents,
  PlayEventsSchema,
  PlayOutcome,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import type { PlayRecord } from "../playback/types.ts";
import { isENOENT, writeFileAtomic } from "../storage/index.ts";

/** Options of {@link PlayEventBuffer}. */
export interface PlayEventBufferOptions {
  /** The folder of batch files (`<data_dir>/v1/play-events`). */
  dir: string;
  logger: Logger;
  /** Records per batch; default and maximum 500 (the contract's limit). */
  batchSize?: number;
  /** Batch files kept at most; the oldest are dropped beyond it (default 2 000 = 1 M records). */
  maxBatches?: number;
}

/** A sealed batch waiting to be sent. */
export interface PendingBatch {
  id: string;
  events: PlayEvents;
}

/**
 * Proof-of-play records survive reconnects and restarts: records are collected in memory,
 * sealed into batch files (≤ 500 events, written atomically) by `seal()` — called every
 * play_event_batch_seconds and when a batch is full — and a batch file is deleted only after
 * it was handed to the stream (`markSent`). A batch in flight when the link drops is sent again;
 * event ids make the resend idempotent on the server. The buffer is bounded: past
 * `maxBatches` the oldest batch is dropped (and logged), so a screen offline for months cannot
 * fill its disk. Records not yet sealed are lost on a power cut (at most one batch interval).
 */
export class PlayEventBuffer {
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #maxBatches: number;
  #open: PlayEvent[] = [];
  #sealed: string[] = [];
  #seq = 0;
  #writing: Promise<void> = Promise.resolve();

  constructor(options: PlayEventBufferOptions) {
    this.#dir = options.dir;
    this.#logger = options.logger;
    this.#batchSize = Math.min(500, options.batchSize ?? 500);
    this.#maxBatches = options.maxBatches ?? 2_000;
  }

  /** Lists the batches left by a previous run. */
  async load(): Promise<void> {
    const names = (await readdir(this.#dir)).filter((n) => /^\d{16}\.binpb$/.test(n)).sort();
    this.#sealed = names;
    const last = names.at(-1);
    this.#seq = last ? Number(last.slice(0, 16)) + 1 : 0;
  }

  /** Adds a record; seals a batch when it is full. */
  add(record: PlayRecord): void {
    this.#open.push(
      create(PlayEventSchema, {
        eventId: randomUUID(),
        assetSha256: record.assetSha256,
        videoId: record.videoId,
        playlistId: record.playlistId,
        ruleId: record.ruleId,
        startedAt: timestampFromDate(record.startedAt),
        endedAt: timestampFromDate(record.endedAt),
        outcome: record.completed ? PlayOutcome.COMPLETED : PlayOutcome.INTERRUPTED,
      }),
    );
    if (this.#open.length >= this.#batchSize) {
      this.seal().catch((error: unknown) => this.#logger.error({ err: error }, "cannot store play events"));
    }
  }

  /** Writes the open records as batch files (serialised with other writes). */
  seal(): Promise<void> {
    this.#writing = this.#writing
      .catch(() => undefined)
      .then(async () => {
        while (this.#open.length > 0) {
          const events = this.#open.splice(0, this.#batchSize);
          const name = `${String(this.#seq++).padStart(16, "0")}.binpb`;
          await writeFileAtomic(
            join(this.#dir, name),
            toBinary(PlayEventsSchema, create(PlayEventsSchema, { events })),
          );
          this.#sealed.push(name);
          while (this.#sealed.length > this.#maxBatches) {
            const dropped = this.#sealed.shift() as string;
            await rm(join(this.#dir, dropped), { force: true });
            this.#logger.warn({ batch: dropped }, "proof-of-play buffer full: dropped the oldest batch");
          }
        }
      });
    return this.#writing;
  }

  /** Sealed batches waiting, oldest first (at most `limit`). */
  async pending(limit = 10): Promise<PendingBatch[]> {
    const out: PendingBatch[] = [];
    for (const name of this.#sealed.slice(0, limit)) {
      try {
        out.push({ id: name, events: fromBinary(PlayEventsSchema, await readFile(join(this.#dir, name))) });
      } catch (error) {
        if (!isENOENT(error)) this.#logger.error({ err: error, batch: name }, "unreadable proof-of-play batch dropped");
        await this.markSent(name);
      }
    }
    return out;
  }

  /** Number of sealed batches waiting. */
  get pendingBatches(): number {
    return this.#sealed.length;
  }

  /** Deletes a batch after it was handed to the stream. */
  async markSent(id: string): Promise<void> {
    this.#sealed = this.#sealed.filter((n) => n !== id);
    await rm(join(this.#dir, id), { force: true });
  }
}
