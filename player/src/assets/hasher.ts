import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";

/** An incremental sha256 whose digest may be computed elsewhere. */
export interface StreamHasher {
  update(chunk: Uint8Array): void;
  /** The lowercase hex digest of everything passed to update. Call once. */
  digest(): Promise<string>;
  /** Releases resources (idempotent; also after digest). */
  close(): void;
}

let shaInstructions: boolean | undefined;

/**
 * True when `/proc/cpuinfo` lists SHA-256 instructions (x86 `sha_ni`, arm64 `sha2`); read once.
 * With them, OpenSSL hashes at 1.5+ GB/s, ten times a gigabit link, and inline hashing beats a
 * worker: measured on the x86 build machine (SHA-NI, 2 cores, the server on one of them), the
 * worker's copies and its competition for the second core made the 200 MiB loopback download
 * 10-30 % slower than hashing each chunk as it arrives. A Raspberry Pi 5 (Cortex-A76) has them;
 * a Pi 4 (Cortex-A72 as shipped) does not and hashes at roughly its gigabit port's speed, so
 * there a worker keeps hashing off the receiving thread (reasoned, not measured on a Pi).
 */
export function cpuHasSha256Instructions(): boolean {
  if (shaInstructions === undefined) {
    try {
      shaInstructions = parseShaInstructions(readFileSync("/proc/cpuinfo", "latin1"));
    } catch {
      shaInstructions = false;
    }
  }
  return shaInstructions;
}

/** Whether a `/proc/cpuinfo` text names SHA-256 instructions in its `flags` (x86) or `Features` (arm64) lines. */
export function parseShaInstructions(cpuinfo: string): boolean {
  return /^(flags|Features)\s*:.*\b(sha_ni|sha2)\b/m.test(cpuinfo);
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
 * gigabit port: hashing on the receiving thread could halve download throughput. Chunks are copied
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
