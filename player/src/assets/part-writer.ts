import { type FileHandle, open } from "node:fs/promises";

/** Tuning of a {@link PartWriter}; the defaults are what the download benchmark measured best. */
export interface PartWriterOptions {
  /** Bytes gathered before one positioned write; default 4 MiB. */
  batchBytes?: number;
  /** Bytes written between background `fdatasync`s; default 32 MiB (0 = only at the end). */
  syncEveryBytes?: number;
}

/**
 * Writes a download's bytes into its part file in large positioned writes, with at most one
 * write in flight while the next batch fills. Measured against piping into
 * `fs.createWriteStream` (one 64 KiB write per socket chunk through the thread pool): the
 * batched writes took the 200 MiB download from ~1 000 ms to ~300-450 ms on the 2-core build
 * machine (`node player/bench/download.bench.ts`).
 *
 * It also starts an `fdatasync` every `syncEveryBytes` in the background: the final fsync then
 * finds little dirty data, and on a Raspberry Pi, whose SD card writes slower than its gigabit
 * port receives, write-back overlaps the download instead of following it (and a 1-2 GiB
 * device never holds hundreds of MiB of dirty pages).
 */
export class PartWriter {
  readonly #file: FileHandle;
  readonly #batchBytes: number;
  readonly #syncEveryBytes: number;
  #batch: Buffer[] = [];
  #batchSize = 0;
  /** File offset of the next batch. */
  #position: number;
  #syncedUpTo: number;
  #writing: Promise<void> | undefined;
  #syncing: Promise<void> | undefined;
  /** The first failure of a background write or sync; rethrown by the next call. */
  #failure: unknown;

  private constructor(file: FileHandle, start: number, options: PartWriterOptions) {
    this.#file = file;
    this.#position = start;
    this.#syncedUpTo = start;
    this.#batchBytes = options.batchBytes ?? 4 * 1024 * 1024;
    this.#syncEveryBytes = options.syncEveryBytes ?? 32 * 1024 * 1024;
  }

  /**
   * Opens `path` to write from byte `start`: 0 truncates (a fresh download), more keeps the
   * bytes before `start` (a resume after they were hashed).
   */
  static async open(path: string, start: number, options: PartWriterOptions = {}): Promise<PartWriter> {
    const file = await open(path, start === 0 ? "w" : "r+", 0o644);
    return new PartWriter(file, start, options);
  }

  /**
   * Takes a chunk (kept by reference, not copied). Resolves at once unless a full batch must
   * wait for the write in flight: awaiting it is the backpressure on the socket.
   */
  async write(chunk: Buffer): Promise<void> {
    this.#batch.push(chunk);
    this.#batchSize += chunk.length;
    if (this.#batchSize >= this.#batchBytes) await this.#flush();
  }

  /** Writes what is left, fsyncs and closes: after this the bytes are durable. */
  async finish(): Promise<void> {
    try {
      await this.#flush();
      await this.#writing;
      await this.#syncing;
      this.#throwFailure();
      await this.#file.sync();
    } finally {
      await this.#file.close();
    }
  }

  /**
   * Best effort after a dropped link or an abort: writes what was received, so the resume
   * starts from the last byte that arrived, and closes. Never throws (the caller reports the
   * original error; a part with a torn tail is caught by the hash and fetched again).
   */
  async abandon(): Promise<void> {
    try {
      await this.#flush();
      await this.#writing;
      await this.#syncing;
    } catch {
      // See above: the download's own error is the one worth reporting.
    }
    await this.#file.close().catch(() => undefined);
  }

  async #flush(): Promise<void> {
    this.#throwFailure();
    if (this.#batchSize === 0) return;
    const batch = this.#batch;
    const size = this.#batchSize;
    this.#batch = [];
    this.#batchSize = 0;
    await this.#writing;
    this.#throwFailure();
    const position = this.#position;
    this.#position += size;
    this.#writing = this.#writeAt(batch, size, position).then(
      () => this.#maybeSync(),
      (error: unknown) => {
        this.#failure ??= error;
      },
    );
  }

  async #writeAt(batch: Buffer[], size: number, position: number): Promise<void> {
    const { bytesWritten } = await this.#file.writev(batch, position);
    // libuv loops over short writes itself, so a shortfall here means the disk refused the rest.
    if (bytesWritten !== size) throw new Error(`short write: ${bytesWritten} of ${size} bytes at offset ${position}`);
  }

  #maybeSync(): void {
    this.#writing = undefined;
    if (this.#syncEveryBytes <= 0 || this.#syncing || this.#position - this.#syncedUpTo < this.#syncEveryBytes) return;
    const upTo = this.#position;
    this.#syncing = this.#file.datasync().then(
      () => {
        this.#syncedUpTo = upTo;
        this.#syncing = undefined;
      },
      (error: unknown) => {
        this.#failure ??= error;
        this.#syncing = undefined;
      },
    );
  }

  #throwFailure(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}
