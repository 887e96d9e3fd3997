/**
 * A queue a producer pushes into and one consumer drains with `for await`. Items pushed under
 * the same key replace each other while waiting (a newer desired state or screen snapshot makes
 * the older one pointless), so a slow consumer costs at most one item per key.
 *
 * INVARIANTS: one consumer; after `close()` the consumer sees the remaining items, then the end;
 * after `fail(error)` the consumer's next read throws it.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items = new Map<string | symbol, T>();
  #waiting: (() => void) | undefined;
  #closed = false;
  #error: unknown;

  /** Adds an item; with a `key`, it replaces a waiting item of the same key (keeping its place). */
  push(item: T, key?: string): void {
    if (this.#closed) return;
    this.#items.set(key ?? Symbol(), item);
    this.#wake();
  }

  /** Ends the stream after the waiting items. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  /** Ends the stream with an error at once. */
  fail(error: unknown): void {
    this.#error = error;
    this.#closed = true;
    this.#items.clear();
    this.#wake();
  }

  /** Number of waiting items. */
  get size(): number {
    return this.#items.size;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const next = this.#items.entries().next();
      if (!next.done) {
        const [key, item] = next.value;
        this.#items.delete(key);
        yield item;
        continue;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
    }
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
  }
}
