import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

/** An incremental sha256 whose digest may be computed elsewhere. */
export interface StreamHasher {
  update(chunk: Uint8Array): void;
  /** The lowercase hex digest of everything passed to update. Call once. */
  digest(): Promise<string>;
  /** Releases resources (idempotent; also after digest). */
  close(): void;
}

/** Hashes on the calling thread (small files: a worker's start-up would cost more than it saves). */
export function inlineHasher(): StreamHasher {
  const hash = createHash("sha256");
  return {
    update: (chunk) => void hash.update(chunk),
    digest: async () => hash.digest("hex"),
    close: () => undefined,
  };
}

// CommonJS source: `eval: true` workers are not ES modules.
const workerSource = `
const { parentPort } = require("node:worker_threads");
const hash = require("node:crypto").createHash("sha256");
parentPort.on("message", (message) => {
  if (message === null) parentPort.postMessage(hash.digest("hex"));
  else hash.update(new Uint8Array(message));
});
`;

/** Bytes gathered before one message to the worker: fewer, larger messages cost less. */
const batchBytes = 1 << 20;

/**
 * Hashes on a worker thread, so hashing overlaps with receiving and writing. On a Raspberry
 * Pi 4 (no ARMv8 SHA instructions) sha256 runs near 100-150 MB/s, about the speed of its
 * gigabit port: hashing on the main thread would halve download throughput. Chunks are copied
 * into 1 MiB batches and transferred, because socket buffers are pooled and cannot be moved.
 */
export function workerHasher(): StreamHasher {
  const worker = new Worker(workerSource, { eval: true });
  let failure: unknown;
  worker.once("error", (error) => {
    failure = error;
  });
  let pending: Uint8Array[] = [];
  let size = 0;
  const flush = () => {
    if (size === 0) return;
    const batch = Buffer.concat(pending, size);
    pending = [];
    size = 0;
    const transferable = batch.buffer.slice(batch.byteOffset, batch.byteOffset + batch.length);
    worker.postMessage(transferable, [transferable]);
  };
  return {
    update(chunk) {
      pending.push(chunk);
      size += chunk.length;
      if (size >= batchBytes) flush();
    },
    digest() {
      flush();
      return new Promise((resolve, reject) => {
        if (failure) {
          reject(failure);
          return;
        }
        worker.once("error", reject);
        worker.once("message", (digest: string) => resolve(digest));
        worker.postMessage(null);
      });
    },
    close() {
      void worker.terminate();
    },
  };
}
