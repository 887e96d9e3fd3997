import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";

/** A byte range, both ends inclusive (as in HTTP Range). */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Content-addressed storage of files by lowercase hex sha256. The file-system store is the
 * default; an S3-compatible one can implement the same interface later.
 */
export interface BlobStore {
  /** A fresh path for a temp file on the same file system as the blobs (so {@link putFile} is a rename). */
  tempPath(suffix: string): Promise<string>;
  /**
   * Makes `tempPath` (whose content hashes to `sha256`) durable under its hash. When the blob
   * already exists the temp file is removed instead. The caller verified the hash.
   */
  putFile(sha256: string, tempPath: string): Promise<void>;
  exists(sha256: string): Promise<boolean>;
  /** Size in bytes, or undefined when missing. */
  size(sha256: string): Promise<number | undefined>;
  /** Reads the blob (or a range of it). Rejects with ENOENT when missing. */
  open(sha256: string, range?: ByteRange): Promise<Readable>;
  /** Removes the blob; no error when it is already gone. */
  delete(sha256: string): Promise<void>;
}

const shaPattern = /^[0-9a-f]{64}$/;

/**
 * File-system blob store: `<root>/sha256/ab/cd/<sha256>`, temp files in `<root>/tmp`. A put is
 * fsync(file) → rename → fsync(folder), so a crash leaves either no blob or a complete one.
 */
export function createFsBlobStore(root: string): BlobStore {
  const tmp = join(root, "tmp");
  const pathOf = (sha256: string): string => {
    if (!shaPattern.test(sha256)) throw new Error(`not a lowercase hex sha256: ${sha256}`);
    return join(root, "sha256", sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  };
  return {
    async tempPath(suffix) {
      await mkdir(tmp, { recursive: true });
      return join(tmp, `${randomBytes(12).toString("hex")}${suffix}`);
    },

    async putFile(sha256, tempPath) {
      const target = pathOf(sha256);
      if (await exists(target)) {
        await rm(tempPath, { force: true });
        return;
      }
      const folder = join(target, "..");
      await mkdir(folder, { recursive: true });
      await fsync(tempPath);
      await rename(tempPath, target);
      await fsync(folder);
    },

    exists: (sha256) => exists(pathOf(sha256)),

    async size(sha256) {
      try {
        return (await stat(pathOf(sha256))).size;
      } catch {
        return undefined;
      }
    },

    async open(sha256, range) {
      const path = pathOf(sha256);
      await stat(path);
      return createReadStream(path, range ? { start: range.start, end: range.end } : {});
    },

    async delete(sha256) {
      await rm(pathOf(sha256), { force: true });
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
