import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBlobStore } from "../../src/app.ts";
import { createFsBlobStore, createS3BlobStore } from "../../src/core/content/index.ts";
import { loadConfig } from "../../src/platform/config/index.ts";
import { type S3Emulator, startS3Emulator } from "../lib/s3-emulator.ts";
import { blobOf, describeBlobStoreContract, readAll, tempWith } from "./blob-store-contract.ts";

/** The S3 store's part size in these tests: small, so a 200 KB blob takes four parts. */
const partBytes = 64 * 1024;

describeBlobStoreContract(
  "file store",
  async () => {
    const root = await mkdtemp(join(tmpdir(), "avtech-blobs-"));
    return { store: createFsBlobStore(root), close: () => rm(root, { recursive: true, force: true }) };
  },
  200_000,
);

let s3: S3Emulator;
beforeAll(async () => {
  s3 = await startS3Emulator();
});
afterAll(async () => {
  await s3?.close();
});

async function s3Store(prefix: string) {
  const tempDir = await mkdtemp(join(tmpdir(), `avtech-s3-tmp-${prefix}-`));
  const store = createS3BlobStore({
    endpoint: s3.endpoint,
    region: "us-east-1",
    bucket: s3.bucket,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    tempDir,
    partBytes,
  });
  return { store, tempDir, close: () => rm(tempDir, { recursive: true, force: true }) };
}

describeBlobStoreContract("S3 store (s3rver)", () => s3Store("contract"), 200_000);

describe("S3 store: nothing half-written becomes visible", () => {
  it("refuses bytes that do not hash to the name with DATA_LOSS, and no object appears", async () => {
    const { store, tempDir, close } = await s3Store("corrupt");
    try {
      const { sha256 } = blobOf(150_000, 5);
      // What reaches the store differs from what ingest hashed (a disk error between the two, say).
      const temp = await tempWith(store, blobOf(150_000, 6).bytes);
      const refused = await store.putFile(sha256, temp).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.DataLoss);
      expect(await store.exists(sha256)).toBe(false);
      expect(await readdir(tempDir), "temp file removed").toEqual([]);
    } finally {
      await close();
    }
  });

  it("fails an upload with UNAVAILABLE while the store is down, and after it is back the blob is not there", async () => {
    const { store, close } = await s3Store("down");
    try {
      const { bytes, sha256 } = blobOf(150_000, 7);
      const temp = await tempWith(store, bytes);
      await s3.stop();
      const refused = await store.putFile(sha256, temp).catch((error: unknown) => error);
      await s3.start();
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.Unavailable);
      expect(await store.exists(sha256)).toBe(false);
    } finally {
      await close();
    }
  });
});

describe("openBlobStore", () => {
  it("stores in the S3 bucket the config names, and nothing in the blob folder", async () => {
    const blobDir = await mkdtemp(join(tmpdir(), "avtech-blobdir-"));
    try {
      const config = loadConfig({
        env: {
          AVTECH_BLOB_DIR: blobDir,
          AVTECH_BLOB_STORE: "s3",
          AVTECH_S3_ENDPOINT: s3.endpoint,
          AVTECH_S3_BUCKET: s3.bucket,
          AVTECH_S3_ACCESS_KEY_ID: "S3RVER",
          AVTECH_S3_SECRET_ACCESS_KEY: "S3RVER",
        },
      });
      const store = await openBlobStore(config);
      const { bytes, sha256 } = blobOf(20_000, 8);
      await store.putFile(sha256, await tempWith(store, bytes));
      const fromBucket = createS3BlobStore({
        endpoint: s3.endpoint,
        region: "us-east-1",
        bucket: s3.bucket,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
        tempDir: blobDir,
      });
      expect((await readAll(await fromBucket.open(sha256))).equals(bytes)).toBe(true);
      expect(await readdir(blobDir, { recursive: true })).toEqual(["tmp"]);
    } finally {
      await rm(blobDir, { recursive: true, force: true });
    }
  });
});
