import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { PlaybackState } from "@avtech/proto/gen/avtech/device/v1/health_pb.js";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../test/lib/fake-clock.ts";
import { createMpvPlayback, type PlaybackDiagnostic } from "./mpv-playback.ts";
import type { CommandRunner, MpvChild, MpvExit, MpvSpawner } from "./process.ts";

/**
 * A scripted stand-in for mpv's IPC, for the supervisor's timing logic under a fake clock (real
 * mpv behaviour is tested under player/test/playback). `timePos` is what it reports.
 */
class ScriptedMpv implements MpvChild {
  readonly pid: number;
  readonly ipc: Duplex;
  readonly kills: string[] = [];
  timePos = 0;
  #nextEntry = 1;
  #exitListeners: ((exit: MpvExit) => void)[] = [];

  constructor(pid: number) {
    this.pid = pid;
    this.ipc = new Duplex({
      read() {},
      write: (chunk: Buffer, _encoding, callback) => {
        for (const line of chunk.toString("utf8").split("\n")) if (line) this.#answer(JSON.parse(line));
        callback();
      },
    });
  }

  #answer(request: { command: unknown[]; request_id: number }) {
    const [name, arg] = request.command;
    let data: unknown = null;
    if (name === "get_property" && arg === "time-pos") data = this.timePos;
    else if (name === "get_property" && arg === "playlist") data = [];
    else if (name === "loadfile") {
      const id = this.#nextEntry++;
      data = { playlist_entry_id: id };
      if (request.command[2] === "replace")
        queueMicrotask(() => this.#send({ event: "start-file", playlist_entry_id: id }));
    }
    this.#send({ data, request_id: request.request_id, error: "success" });
    if (name === "quit") queueMicrotask(() => this.#exit({ code: 0, signal: null }));
  }

  #exit(exit: MpvExit) {
    this.ipc.push(null);
    for (const listener of this.#exitListeners) listener(exit);
  }

  #send(message: object) {
    this.ipc.push(`${JSON.stringify(message)}\n`);
  }

  kill(signal: NodeJS.Signals) {
    this.kills.push(signal);
    this.#exit({ code: null, signal });
  }

  onExit(listener: (exit: MpvExit) => void) {
    this.#exitListeners.push(listener);
  }
}

/** Writes the file ffmpeg would have written (its last argument, relative to cwd). */
const fakeFfmpeg: CommandRunner = {
  async run(_command, args, options) {
    await writeFile(join(options?.cwd ?? ".", String(args[args.length - 1])), "png");
  },
};

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

let runtimeDir: string;
beforeEach(async () => {
  runtimeDir = await mkdtemp(join(tmpdir(), "avtech-playback-unit-"));
});
afterEach(async () => {
  await rm(runtimeDir, { recursive: true, force: true });
});

describe("createMpvPlayback supervision", () => {
  it("kills and replaces an mpv whose time-pos stops advancing while a plan plays", async () => {
    const clock = new FakeClock(new Date("2026-01-01T00:00:00Z"));
    const spawned: ScriptedMpv[] = [];
    const spawner: MpvSpawner = {
      spawn() {
        const mpv = new ScriptedMpv(1000 + spawned.length);
        spawned.push(mpv);
        return mpv;
      },
      killStale() {},
    };
    const diagnostics: PlaybackDiagnostic[] = [];
    const playback = createMpvPlayback({
      runtimeDir,
      logger: pino({ level: "silent" }),
      clock,
      spawner,
      runner: fakeFfmpeg,
      watchdog: { probeIntervalMs: 1_000, stallMs: 5_000 },
      onDiagnostic: (d) => diagnostics.push(d),
    });
    const started = playback.start();
    await settle();
    await started;
    await playback.play({
      playlistId: "lobby",
      ruleId: "",
      items: [{ path: "/media/a.mp4", assetSha256: "a".repeat(64), videoId: "a", durationMs: 10_000 }],
    });
    await settle();

    const first = spawned[0] as ScriptedMpv;
    for (let s = 1; s <= 3; s++) {
      first.timePos = s;
      await clock.advance(1_000);
      await settle();
    }
    expect(playback.healthy()).toBe(true);
    expect(first.kills).toEqual([]);

    // Frozen at 3 s: after stallMs without progress the watchdog condemns it.
    for (let s = 0; s < 6; s++) {
      await clock.advance(1_000);
      await settle();
    }
    expect(first.kills).toEqual(["SIGKILL"]);
    expect(diagnostics.some((d) => d.kind === "watchdog" && d.reason === "stalled")).toBe(true);
    expect(playback.healthy()).toBe(false);
    expect(playback.status().state).toBe(PlaybackState.RECOVERING);

    // The first restart waits 100 ms.
    await clock.advance(99);
    await settle();
    expect(spawned).toHaveLength(1);
    await clock.advance(1);
    await settle();
    expect(spawned).toHaveLength(2);
    expect(playback.healthy()).toBe(true);
    expect(playback.status()).toMatchObject({
      state: PlaybackState.PLAYING,
      playlistId: "lobby",
      mpvRestartsLastHour: 1,
    });

    await playback.stop();
  });
});
