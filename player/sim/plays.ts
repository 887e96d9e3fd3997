import { randomUUID } from "node:crypto";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  PlayEventSchema,
  PlayOutcome,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";

/** A clip simulated screens play: what their proof-of-play events name. */
export interface SimulatedClip {
  videoId: string;
  playlistId: string;
  sha256: string;
  /** How long it plays; the schedule's `clipMs` when unset. */
  durationMs?: number;
}

/**
 * Proof of play for simulated screens: each plays `clips` back to back, `clipMs` each, and every
 * `batchMs` sends the plays it finished since its last batch as one PlayEvents message (what the
 * player does every play_event_batch_seconds). 10,000 screens of 10 s clips send 1,000 events a
 * second. Screens start their first batch at a random point of the first interval, so batches
 * arrive spread out, not together.
 */
export interface SimulatedPlays {
  clips: readonly SimulatedClip[];
  /** Length of every clip without a `durationMs` of its own; default 10,000 ms. */
  clipMs?: number;
  /** How often a screen sends its finished plays; default 60,000 ms (the player's default). */
  batchMs?: number;
}

/** One screen's playback: which clip is on, and since when. */
export class PlaySchedule {
  readonly #clips: readonly SimulatedClip[];
  readonly #clipMs: number;
  #next: number;
  #clip: number;

  /** Starts playing at `startMs` (epoch ms), from clip `first` (to vary screens). */
  constructor(plays: SimulatedPlays, startMs: number, first: number) {
    if (plays.clips.length === 0) throw new Error("simulated plays need at least one clip");
    this.#clips = plays.clips;
    this.#clipMs = plays.clipMs ?? 10_000;
    this.#next = startMs;
    this.#clip = first % plays.clips.length;
  }

  /** The plays that ended by `nowMs` and were not taken before, as one PlayEvents message (undefined: none). */
  take(nowMs: number): ConnectRequest | undefined {
    const events = [];
    for (;;) {
      const clip = this.#clips[this.#clip] as SimulatedClip;
      const ms = clip.durationMs ?? this.#clipMs;
      if (this.#next + ms > nowMs || events.length >= 500) break;
      events.push(
        create(PlayEventSchema, {
          eventId: randomUUID(),
          assetSha256: clip.sha256,
          videoId: clip.videoId,
          playlistId: clip.playlistId,
          startedAt: timestampFromDate(new Date(this.#next)),
          endedAt: timestampFromDate(new Date(this.#next + ms)),
          outcome: PlayOutcome.COMPLETED,
        }),
      );
      this.#next += ms;
      this.#clip = (this.#clip + 1) % this.#clips.length;
    }
    if (events.length === 0) return undefined;
    return create(ConnectRequestSchema, { message: { case: "playEvents", value: { events } } });
  }
}
