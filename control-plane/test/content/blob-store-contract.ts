import { createHash } from "node:crypto";
import { stat, writeFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { BlobStore } from "../../src/core/content/index.ts";

/** A store under test and how to end it. */
export interface StoreUnderTest {
  store: BlobStore;
  close(): Promise<void>;
}

/** Bytes `size` long from `seed`, and their sha256. */
export function blobOf(size: number, seed: number): { bytes: Buffer; sha256: string } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7) & 0xff;
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}

/** Writes `bytes` to a fresh temp path of `store`, as ingest does before putFile. */
export async function tempWith(store: BlobStore, bytes: Buffer): Promise<string> {
  const path = await store.tempPath(".upload");
  await writeFile(path, bytes);
  return path;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function gone(path: string): Promise<boolean> {
  return stat(path).then(
    () => false,
    () => true,
  );
}

/**
 * What every BlobStore must do, run against each implementation (blob-store.test.ts): the file
 * store and the S3 store on an S3 emulator. `bigSize` is a blob larger than the store's unit of
 * transfer (the S3 store's part size in its test), so multi-part writes are read back too.
 */
export function describeBlobStoreContract(name: string, open: () => Promise<StoreUnderTest>, bigSize: number): void {
  describe(`${name}: the BlobStore contract`, () => {
    const withStore = async (body: (store: BlobStore) => Promise<void>) => {
      const { store, close } = await open();
      try {
        await body(store);
      } finally {
        await close();
      }
    };

    it("stores a blob under its sha256, consumes the temp file, and reads it whole and by range", () =>
      withStore(async (store) => {
        const { bytes, sha256 } = blobOf(10_000, 1);
        const temp = await tempWith(store, bytes);
        expect(await store.exists(sha256)).toBe(false);
        await store.putFile(sha256, temp);
        expect(await gone(temp), "temp file consumed").toBe(true);
        expect(await store.exists(sha256)).toBe(true);
        expect(await store.size(sha256)).toBe(10_000);
        expect((await readAll(await store.open(sha256))).equals(bytes)).toBe(true);
        const range = await readAll(await store.open(sha256, { start: 100, end: 199 }));
        expect(range.equals(bytes.subarray(100, 200))).toBe(true);
      }));

    it("reads back a blob larger than one transfer unit byte for byte", () =>
      withStore(async (store) => {
        const { bytes, sha256 } = blobOf(bigSize, 2);
        await store.putFile(sha256, await tempWith(store, bytes));
        expect(await store.size(sha256)).toBe(bigSize);
        expect(
          createHash("sha256")
            .update(await readAll(await store.open(sha256)))
            .digest("hex"),
        ).toBe(sha256);
      }));

    it("keeps the first copy when the same blob is put again, and removes the second temp file", () =>
      withStore(async (store) => {
        const { bytes, sha256 } = blobOf(5_000, 3);
        await store.putFile(sha256, await tempWith(store, bytes));
        const again = await tempWith(store, bytes);
        await store.putFile(sha256, again);
        expect(await gone(again)).toBe(true);
        expect((await readAll(await store.open(sha256))).equals(bytes)).toBe(true);
      }));

    it("answers for a missing blob: not there, no size, open rejects with ENOENT", () =>
      withStore(async (store) => {
        const missing = "f".repeat(64);
        expect(await store.exists(missing)).toBe(false);
        expect(await store.size(missing)).toBeUndefined();
        await expect(store.open(missing)).rejects.toMatchObject({ code: "ENOENT" });
      }));

    it("deletes a blob, and deleting it again is no error", () =>
      withStore(async (store) => {
        const { bytes, sha256 } = blobOf(1_000, 4);
        await store.putFile(sha256, await tempWith(store, bytes));
        await store.delete(sha256);
        expect(await store.exists(sha256)).toBe(false);
        await store.delete(sha256);
      }));

    it("refuses a name that is not a lowercase hex sha256", () =>
      withStore(async (store) => {
        await expect(async () => store.exists("../../etc/passwd")).rejects.toThrow(/sha256/);
      }));
  });
}
