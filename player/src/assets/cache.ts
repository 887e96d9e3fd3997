import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, rm, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { isSha256Hex } from "@avtech/proto";
import { fsyncDir, isENOENT } from "../storage/index.ts";
import { type DownloadOutcome, downloadAsset } from "./download.ts";
import type { HttpGetter } from "./http.ts";

/** Free and total bytes of a filesystem. */
export interface FsSpace {
  freeBytes: number;
  totalBytes: number;
}

/** Filesystem space, injected so tests can simulate a full disk. */
export interface SpaceProbe {
  space(path: string): Promise<FsSpace>;
}

/** The real probe: statfs(2), counting blocks available to unprivileged users. */
export const statfsProbe: SpaceProbe = {
  async space(path) {
    const s = await statfs(path);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  },
};

/** What the cache folder holds. */
export interface CacheSnapshot {
  /** Files whose sha256 was checked since start-up. */
  verified: ReadonlyMap<string, number>;
  /** Files found at start-up, not checked yet. */
  unverified: ReadonlyMap<string, number>;
  /** Interrupted downloads (`<sha>.part`) and their sizes. */
  parts: ReadonlyMap<string, number>;
}

/** Result of checking one cached file. */
export type VerifyResult = { type: "Valid" } | { type: "Corrupt"; actual: string } | { type: "Missing" };

const partSuffix = ".part";

/**
 * The content-addressed media cache: `<media>/v1/<sha256>` files that were verified before they
 * got their name, plus `<sha256>.part` downloads in progress.
 *
 * Start-up keeps `.part` files: on a slow link a power cut should not cost a 200 MiB clip from
 * byte 0, and a torn tail cannot slip through because the whole file is hashed before it is
 * renamed (a mismatch after a resume refetches from scratch). Unreferenced parts are evicted
 * like any other unreferenced file. Anything else in the folder (not a sha256 name) is deleted.
 */
export class AssetCache {
  readonly dir: string;
  readonly #verified = new Map<string, number>();
  readonly #unverified = new Map<string, number>();
  readonly #parts = new Map<string, number>();
  readonly #space: SpaceProbe;

  constructor(dir: string, space: SpaceProbe) {
    this.dir = dir;
    this.#space = space;
  }

  /** Lists the folder (cheap: no hashing) and deletes files that are not ours; returns their names. */
  async open(): Promise<string[]> {
    this.#verified.clear();
    this.#unverified.clear();
    this.#parts.clear();
    const removed: string[] = [];
    for (const entry of await readdir(this.dir, { withFileTypes: true })) {
      const name = entry.name;
      const isPart = name.endsWith(partSuffix);
      const sha = isPart ? name.slice(0, -partSuffix.length) : name;
      if (!entry.isFile() || !isSha256Hex(sha)) {
        await rm(join(this.dir, name), { recursive: true, force: true });
        removed.push(name);
        continue;
      }
      const size = (await stat(join(this.dir, name))).size;
      (isPart ? this.#parts : this.#unverified).set(sha, size);
    }
    if (removed.length > 0) await fsyncDir(this.dir);
    return removed;
  }

  /** A copy of what the cache holds. */
  snapshot(): CacheSnapshot {
    return { verified: new Map(this.#verified), unverified: new Map(this.#unverified), parts: new Map(this.#parts) };
  }

  /** Number of verified files (reported in Hello). */
  get verifiedCount(): number {
    return this.#verified.size;
  }

  /** True when `sha256` is on disk (verified or still to verify). */
  has(sha256: string): boolean {
    return this.#verified.has(sha256) || this.#unverified.has(sha256);
  }

  /** Path of a cached asset. */
  pathOf(sha256: string): string {
    return join(this.dir, sha256);
  }

  /** Bytes the cache folder holds, parts included. */
  mediaBytes(): number {
    let sum = 0;
    for (const map of [this.#verified, this.#unverified, this.#parts]) for (const size of map.values()) sum += size;
    return sum;
  }

  /** Space of the media filesystem. */
  space(): Promise<FsSpace> {
    return this.#space.space(this.dir);
  }

  /** Hashes a cached file; a corrupt one (bit flip) is deleted so it gets fetched again. */
  async verify(sha256: string, signal: AbortSignal): Promise<VerifyResult> {
    const path = this.pathOf(sha256);
    const hash = createHash("sha256");
    try {
      for await (const chunk of createReadStream(path, { signal, highWaterMark: 1 << 20 })) hash.update(chunk);
    } catch (error) {
      if (!isENOENT(error)) throw error;
      this.#forget(sha256);
      return { type: "Missing" };
    }
    const actual = hash.digest("hex");
    if (actual !== sha256) {
      await this.remove(sha256);
      return { type: "Corrupt", actual };
    }
    const size = this.#unverified.get(sha256) ?? (await stat(path)).size;
    this.#unverified.delete(sha256);
    this.#verified.set(sha256, size);
    return { type: "Valid" };
  }

  /** Downloads a missing asset (see downloadAsset) and records it as verified. */
  async download(
    asset: { sha256: string; sizeBytes: number; url: URL },
    http: HttpGetter,
    options: { signal: AbortSignal; headers?: Readonly<Record<string, string>>; onResume?: (offset: number) => void },
  ): Promise<DownloadOutcome> {
    try {
      const outcome = await downloadAsset(asset, { http, path: this.pathOf(asset.sha256), ...options });
      this.#parts.delete(asset.sha256);
      this.#unverified.delete(asset.sha256);
      this.#verified.set(asset.sha256, asset.sizeBytes);
      return outcome;
    } finally {
      await this.#refreshPart(asset.sha256);
    }
  }

  /** Deletes an asset and its part file. */
  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
    await rm(`${this.pathOf(sha256)}${partSuffix}`, { force: true });
    await fsyncDir(this.dir);
    this.#forget(sha256);
  }

  #forget(sha256: string): void {
    this.#verified.delete(sha256);
    this.#unverified.delete(sha256);
    this.#parts.delete(sha256);
  }

  async #refreshPart(sha256: string): Promise<void> {
    try {
      this.#parts.set(sha256, (await stat(`${this.pathOf(sha256)}${partSuffix}`)).size);
    } catch (error) {
      if (!isENOENT(error)) throw error;
      this.#parts.delete(sha256);
    }
  }
}
