import { writeFile } from "node:fs/promises";
import {
  PlaybackState,
  type PlaybackStatus,
  PlaybackStatusSchema,
} from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import { create } from "@bufbuild/protobuf";
import type { OutputSettings, Playback, PlayPlan, PlayRecord, Slate } from "../../src/playback/types.ts";

/** One call the fake saw. */
export type PlaybackCall =
  | { method: "play"; plan: PlayPlan }
  | { method: "showSlate"; slate: Slate }
  | { method: "setOutput"; settings: OutputSettings }
  | { method: "identify"; text: string; seconds: number }
  | { method: "screenshot"; path: string }
  | { method: "start" }
  | { method: "stop" };

/** An in-memory Playback that records calls (real mpv is tested under player/test/playback). */
export class FakePlayback implements Playback {
  readonly calls: PlaybackCall[] = [];
  current: PlayPlan | Slate | undefined;
  /** The last settings passed to setOutput. */
  output: OutputSettings | undefined;
  readonly #listeners = new Set<(record: PlayRecord) => void>();
  readonly #waiters: { match: (call: PlaybackCall) => boolean; resolve: (call: PlaybackCall) => void }[] = [];
  /** Bytes `screenshot` writes. */
  screenshotBytes: Uint8Array = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);

  async start(): Promise<void> {
    this.#record({ method: "start" });
  }
  async stop(): Promise<void> {
    this.#record({ method: "stop" });
  }
  async play(plan: PlayPlan): Promise<void> {
    this.current = plan;
    this.#record({ method: "play", plan });
  }
  async showSlate(slate: Slate): Promise<void> {
    this.current = slate;
    this.#record({ method: "showSlate", slate });
  }
  async setOutput(settings: OutputSettings): Promise<void> {
    this.output = settings;
    this.#record({ method: "setOutput", settings });
  }
  async identify(text: string, seconds: number): Promise<void> {
    this.#record({ method: "identify", text, seconds });
  }
  async screenshot(path: string): Promise<void> {
    await writeFile(path, this.screenshotBytes);
    this.#record({ method: "screenshot", path });
  }
  status(): PlaybackStatus {
    const c = this.current;
    if (c && "items" in c)
      return create(PlaybackStatusSchema, { state: PlaybackState.PLAYING, playlistId: c.playlistId });
    if (c?.kind === "display-off") return create(PlaybackStatusSchema, { state: PlaybackState.DISPLAY_OFF });
    return create(PlaybackStatusSchema, { state: PlaybackState.STANDBY });
  }
  healthy(): boolean {
    return true;
  }
  onPlayRecord(listener: (record: PlayRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Emits a proof-of-play record as mpv would at a clip end. */
  emitPlayRecord(record: PlayRecord): void {
    for (const listener of this.#listeners) listener(record);
  }

  /** The plans passed to play, in order. */
  get plans(): PlayPlan[] {
    return this.calls.flatMap((c) => (c.method === "play" ? [c.plan] : []));
  }

  /** Resolves with the first call (already made or future) that matches. */
  waitFor(match: (call: PlaybackCall) => boolean): Promise<PlaybackCall> {
    const seen = this.calls.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  #record(call: PlaybackCall): void {
    this.calls.push(call);
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(call)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(call);
      }
    }
  }
}
