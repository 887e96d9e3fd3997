import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isENOENT } from "./errors.ts";

/** Options of {@link writeFileAtomic}. */
export interface WriteAtomicOptions {
  /** File mode of the new file; default 0o644. The device token uses 0o600. */
  mode?: number;
}

/**
 * Replaces `path` with `data` so that after a power cut the file holds either the old or the new
 * content, never a mix: write a temp file in the same folder, fsync it, rename it over the
 * target, fsync the folder (the rename is only durable then). Never truncates in place.
 * A failed write or fsync deletes the temp file and rethrows: after a failed fsync the kernel
 * may have dropped the pages, so retrying the fsync would hide data loss.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: WriteAtomicOptions = {}) {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(tmp, "wx", options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await fsyncDir(dirname(path));
}

/** Makes a folder's entries (creations, renames, deletions) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** True for the temp files {@link writeFileAtomic} leaves behind when killed; safe to delete at start-up. */
export function isAtomicTempName(name: string): boolean {
  return name.startsWith(".") && name.endsWith(".tmp");
}

/** The file's bytes, or undefined when it does not exist (a first boot, not an error). */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if (isENOENT(error)) return undefined;
    throw error;
  }
}
