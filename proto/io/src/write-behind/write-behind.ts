import type { FileHandle } from "node:fs/promises";

/** The part of a FileHandle that {@link WriteBehind} uses (so a test can count the calls). */
export type AppendTarget = Pick<FileHandle, "writev" | "datasync">;

/** Batching and syncing of {@link WriteBehind}. */
export interface WriteBehindOptions {
  /** A write starts once this many bytes wait (and none is in flight). */
  batchBytes: number;
  /** {@link WriteBehind.push} waits while more than this many bytes wait behind the write in flight. */
  maxQueuedBytes: number;
  /** After this many bytes written, an fdatasync starts beside the next writes (0: never). */
  syncEveryBytes: number;
}

/**
 * Appends chunks to a file behind its caller, so receiving from the network, hashing and disk
 * I/O overlap: chunks are gathered into batches written with one `writev` each, instead of one
 * small async write per chunk (a browser's 64 KiB body chunks, a gRPC client's 256 KiB
 * messages). Data is flushed to disk in the background every `syncEveryBytes`, so the final
 * fsync before the file is published finds little left to write.
 *
 * INVARIANTS: at most one write is in flight, and bytes reach the file in push order. The first
 * failure (a write or a background fdatasync: after a failed fsync the file cannot be trusted)
 * is kept, and every later {@link push} and {@link finish} rejects with it.
 */
export class WriteBehind {
  readonly #file: AppendTarget;
  readonly #options: WriteBehindOptions;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #writing: Promise<void> | undefined;
  #unsynced = 0;
  readonly #syncs: Promise<void>[] = [];
  #failed: { error: unknown } | undefined;

  constructor(file: AppendTarget, options: WriteBehindOptions) {
    this.#file = file;
    this.#options = options;
  }

  /** Queues `chunk` (not copied: the caller must not reuse it); waits only while too much is queued. */
  async push(chunk: Uint8Array): Promise<void> {
    this.#throwIfFailed();
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.byteLength;
    if (!this.#writing && this.#pendingBytes >= this.#options.batchBytes) this.#startWrite();
    while (this.#writing && this.#pendingBytes > this.#options.maxQueuedBytes) await this.#writing;
    this.#throwIfFailed();
  }

  /** Writes what is left and waits for every write and background sync; rejects with the first failure. */
  async finish(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#pendingBytes > 0 && !this.#failed) this.#startWrite();
    while (this.#writing) await this.#writing;
    await Promise.all(this.#syncs);
    this.#throwIfFailed();
  }

  /** Waits until nothing touches the file any more, ignoring failures (before closing it on an error path). */
  async settle(): Promise<void> {
    while (this.#writing) await this.#writing;
    await Promise.all(this.#syncs);
  }

  #startWrite(): void {
    const batch = this.#pending;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#writing = this.#write(batch, bytes).then(
      () => {
        this.#writing = undefined;
        if (this.#pendingBytes >= this.#options.batchBytes) this.#startWrite();
      },
      (error: unknown) => {
        this.#failed ??= { error };
        this.#writing = undefined;
      },
    );
  }

  async #write(batch: Uint8Array[], bytes: number): Promise<void> {
    // libuv's writev loops over partial writes and IOV_MAX itself; a short count means a broken file.
    const { bytesWritten } = await this.#file.writev(batch);
    if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes`);
    this.#unsynced += bytes;
    if (this.#options.syncEveryBytes > 0 && this.#unsynced >= this.#options.syncEveryBytes) {
      this.#unsynced = 0;
      this.#syncs.push(
        this.#file.datasync().catch((error: unknown) => {
          this.#failed ??= { error };
        }),
      );
    }
  }

  #throwIfFailed(): void {
    if (this.#failed) throw this.#failed.error;
  }
}
