import { createHash } from "node:crypto";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AppendTarget, WriteBehind } from "./write-behind.ts";

/** A file that records each writev and lets the test finish them one at a time. */
function controlledFile() {
  const writes: { sizes: number[]; done: () => void; fail: (error: Error) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let syncs = 0;
  const writev = (buffers: readonly NodeJS.ArrayBufferView[]) =>
    new Promise<{ bytesWritten: number; buffers: readonly NodeJS.ArrayBufferView[] }>((resolve, reject) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const sizes = buffers.map((b) => b.byteLength);
      const bytesWritten = sizes.reduce((a, b) => a + b, 0);
      writes.push({
        sizes,
        done: () => {
          inFlight -= 1;
          resolve({ bytesWritten, buffers });
        },
        fail: (error) => {
          inFlight -= 1;
          reject(error);
        },
      });
    });
  const file: AppendTarget = {
    writev: writev as AppendTarget["writev"],
    datasync: async () => {
      syncs += 1;
    },
  };
  return { file, writes, maxInFlight: () => maxInFlight, syncs: () => syncs };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("WriteBehind", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "avtech-write-behind-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes every byte in order to a real file", async () => {
    const path = join(dir, "out.part");
    const file = await open(path, "wx");
    const writer = new WriteBehind(file, { batchBytes: 1000, maxQueuedBytes: 4000, syncEveryBytes: 3000 });
    const expected = createHash("sha256");
    for (let i = 0; i < 200; i++) {
      const chunk = Buffer.alloc(1 + ((i * 37) % 300), i);
      expected.update(chunk);
      await writer.push(chunk);
    }
    await writer.finish();
    await file.close();
    expect(
      createHash("sha256")
        .update(await readFile(path))
        .digest("hex"),
    ).toBe(expected.digest("hex"));
  });

  it("gathers small chunks into batches with one write in flight and waits only when too much is queued", async () => {
    const target = controlledFile();
    const writer = new WriteBehind(target.file, { batchBytes: 100, maxQueuedBytes: 300, syncEveryBytes: 200 });
    await writer.push(new Uint8Array(60));
    expect(target.writes).toHaveLength(0);
    await writer.push(new Uint8Array(60));
    expect(target.writes.map((w) => w.sizes)).toEqual([[60, 60]]);
    for (let i = 0; i < 5; i++) await writer.push(new Uint8Array(60));
    expect(target.writes).toHaveLength(1);
    let pushed = false;
    const blocked = writer.push(new Uint8Array(60)).then(() => {
      pushed = true;
    });
    await tick();
    expect(pushed).toBe(false);
    target.writes[0]?.done();
    await blocked;
    expect(target.writes.map((w) => w.sizes.length)).toEqual([2, 6]);
    const finished = writer.finish();
    target.writes[1]?.done();
    await finished;
    expect(target.maxInFlight()).toBe(1);
    expect(target.syncs()).toBe(1);
  });

  it("rejects every later call with the first write failure", async () => {
    const target = controlledFile();
    const writer = new WriteBehind(target.file, { batchBytes: 10, maxQueuedBytes: 100, syncEveryBytes: 0 });
    await writer.push(new Uint8Array(10));
    target.writes[0]?.fail(new Error("ENOSPC: no space left on device"));
    await tick();
    await expect(writer.push(new Uint8Array(10))).rejects.toThrow(/ENOSPC/);
    await expect(writer.finish()).rejects.toThrow(/ENOSPC/);
    await writer.settle();
    expect(target.writes).toHaveLength(1);
  });
});
