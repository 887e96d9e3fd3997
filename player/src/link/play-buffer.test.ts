import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PlayEventBuffer } from "./play-buffer.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-plays-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const record = {
  assetSha256: "a".repeat(64),
  videoId: "v",
  playlistId: "p",
  ruleId: "",
  startedAt: new Date(),
  endedAt: new Date(),
  completed: false,
};

describe("PlayEventBuffer", () => {
  it("is bounded: the oldest batches go first", async () => {
    const buffer = new PlayEventBuffer({ dir, logger: pino({ level: "silent" }), batchSize: 2, maxBatches: 3 });
    await buffer.load();
    for (let i = 0; i < 10; i++) buffer.add(record);
    await buffer.seal();
    expect(await readdir(dir)).toEqual(["0000000000000002.binpb", "0000000000000003.binpb", "0000000000000004.binpb"]);
    const reloaded = new PlayEventBuffer({ dir, logger: pino({ level: "silent" }) });
    await reloaded.load();
    const pending = await reloaded.pending();
    expect(pending.map((b) => b.events.events.length)).toEqual([2, 2, 2]);
    expect(pending[0]?.events.events[0]?.outcome).toBe(2);
    await reloaded.markSent(pending[0]?.id ?? "");
    expect(reloaded.pendingBatches).toBe(2);
  });
});
