import { describe, expect, it } from "vitest";
import { AsyncQueue } from "./async-queue.ts";

async function drain<T>(queue: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of queue) items.push(item);
  return items;
}

describe("AsyncQueue", () => {
  it("delivers items in order and replaces a waiting item with the same key", async () => {
    const queue = new AsyncQueue<string>();
    queue.push("state v1", "state");
    queue.push("command");
    queue.push("state v2", "state");
    queue.close();
    expect(await drain(queue)).toEqual(["state v2", "command"]);
  });

  it("wakes a waiting consumer and ends with the error it failed with", async () => {
    const queue = new AsyncQueue<number>();
    const consumed = drain(queue);
    queue.push(1);
    await Promise.resolve();
    queue.fail(new Error("gone"));
    await expect(consumed).rejects.toThrow("gone");
  });
});
