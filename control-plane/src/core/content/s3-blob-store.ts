import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { Code, ConnectError } from "@connectrpc/connect";
import type { BlobStore } from "./blob-store.ts";

/** Where an S3-compatible store is and how to sign for it (`blobStore` with `kind: "s3"` in the config). */
export interface S3BlobStoreOptions {
  /** e.g. http://minio.internal:9000; unset = AWS's endpoint for `region`. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Both or neither; neither = the AWS SDK's default credential chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO, Ceph RGW and s3rver expect; default true. */
  forcePathStyle?: boolean;
  /** Local folder for upload temp files (ingest hashes and probes a local file first). */
  tempDir: string;
  /** Part size of multipart uploads; default 8 MiB (S3's minimum is 5 MiB for every part but the last). */
  partBytes?: number;
}

const shaPattern = /^[0-9a-f]{64}$/;

/**
 * S3 blob store with the file store's layout (`sha256/ab/cd/<sha256>`). A put streams the temp
 * file as a multipart upload straight to the final key, hashing what it sends, and completes the
 * upload only when that hash is the expected one: S3 makes an object visible at
 * CompleteMultipartUpload and not before, so a failed, aborted or corrupted upload leaves no
 * object under the name (its parts are aborted; a bucket lifecycle rule
 * AbortIncompleteMultipartUpload cleans up after a process that died mid-upload).
 *
 * Errors: the store unreachable or failing → ConnectError UNAVAILABLE; bytes that do not hash to
 * the name → DATA_LOSS; a missing blob → an Error with code ENOENT (as the file store).
 */
export function createS3BlobStore(options: S3BlobStoreOptions): BlobStore {
  const client = s3ClientOf(options);
  const bucket = options.bucket;
  const partBytes = options.partBytes ?? 8 * 1024 * 1024;
  const head = async (sha256: string): Promise<number | undefined> => {
    const key = keyOf(sha256);
    try {
      const response = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return response.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw unavailable(error, `HEAD ${sha256}`);
    }
  };

  return {
    async tempPath(suffix) {
      await mkdir(options.tempDir, { recursive: true });
      return join(options.tempDir, `${randomBytes(12).toString("hex")}${suffix}`);
    },

    async putFile(sha256, tempPath) {
      try {
        if ((await head(sha256)) !== undefined) return;
        await uploadVerified(sha256, tempPath);
      } finally {
        await rm(tempPath, { force: true });
      }
    },

    exists: async (sha256) => (await head(sha256)) !== undefined,
    size: head,

    async open(sha256, range) {
      const key = keyOf(sha256);
      try {
        const response = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          }),
        );
        return response.Body as Readable;
      } catch (error) {
        if (isNotFound(error)) throw Object.assign(new Error(`blob ${sha256} not found`), { code: "ENOENT" });
        throw unavailable(error, `GET ${sha256}`);
      }
    },

    async delete(sha256) {
      const key = keyOf(sha256);
      try {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        if (!isNotFound(error)) throw unavailable(error, `DELETE ${sha256}`);
      }
    },
  };

  async function uploadVerified(sha256: string, tempPath: string): Promise<void> {
    const key = keyOf(sha256);
    let uploadId: string | undefined;
    try {
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      uploadId = created.UploadId;
      const hash = createHash("sha256");
      const parts: { ETag: string | undefined; PartNumber: number }[] = [];
      for await (const part of readParts(tempPath, partBytes)) {
        hash.update(part);
        const PartNumber = parts.length + 1;
        const sent = await client.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber, Body: part }),
        );
        parts.push({ ETag: sent.ETag, PartNumber });
      }
      const actual = hash.digest("hex");
      if (actual !== sha256) {
        throw new ConnectError(
          `the bytes sent to the object store hash to ${actual}, not ${sha256}: the upload was discarded; send it again`,
          Code.DataLoss,
        );
      }
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      uploadId = undefined;
    } catch (error) {
      if (error instanceof ConnectError) throw error;
      throw unavailable(error, `upload of ${sha256}`);
    } finally {
      if (uploadId !== undefined) {
        // Best effort: some S3 emulators (s3rver) do not implement it; the parts stay invisible either way.
        await client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
          .catch(() => undefined);
      }
    }
  }
}

/** The store's connection settings: {@link S3BlobStoreOptions} without the upload ones. */
export type S3Connection = Omit<S3BlobStoreOptions, "tempDir" | "partBytes">;

function s3ClientOf(options: S3Connection): S3Client {
  return new S3Client({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    region: options.region,
    forcePathStyle: options.forcePathStyle ?? true,
    ...(options.accessKeyId && options.secretAccessKey
      ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
      : {}),
    // One attempt more than the SDK's minimum: a store that is down must fail the upload quickly.
    maxAttempts: 2,
  });
}

function keyOf(sha256: string): string {
  if (!shaPattern.test(sha256)) throw new Error(`not a lowercase hex sha256: ${sha256}`);
  return `sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

/** Pre-signed GET URLs of stored blobs (the /assets redirect's source). */
export interface BlobUrlSigner {
  /** A URL anyone holding it may GET the blob from, without other credentials, for a while. */
  urlFor(sha256: string): Promise<string>;
}

/** How {@link createS3UrlSigner} signs (`blobStore.presign` in the config). */
export interface S3PresignOptions {
  /** The least time a URL handed out stays valid, and the length of a signing bucket (see createS3UrlSigner). */
  expiresSeconds: number;
  /** Replaces the signed URL's scheme, host and port and prefixes its path (a CDN in front of the store). */
  publicBaseUrl?: string;
  /** The time signatures are computed from (the control plane's clock). */
  now(): Date;
}

/**
 * Signs GET URLs of the store's objects (SigV4 query signing, `@aws-sdk/s3-request-presigner`).
 *
 * Why time buckets: a CDN caches one response per URL. Signing with the current time would make
 * every request's URL different (X-Amz-Date and the signature change each second), so the CDN
 * would fetch every download from the store. Instead the signing date is the start of the current
 * bucket of `expiresSeconds` (rounded down on the epoch) and the URL lives two buckets: every
 * request within a bucket gets the identical URL for an object, and a URL handed out even in the
 * bucket's last second is still valid `expiresSeconds` later (at most twice that). Nothing of the
 * screen is in the URL, so screens of one tenant share it; only a screen that passed /assets' device-token
 * and tenant check is given it. The URL is never put into desired-state documents, whose hash must not
 * change with time. Signing does no network I/O (credentials from the default chain may be fetched once).
 */
export function createS3UrlSigner(connection: S3Connection, presign: S3PresignOptions): BlobUrlSigner {
  const client = s3ClientOf(connection);
  const bucketMs = presign.expiresSeconds * 1000;
  const base = presign.publicBaseUrl === undefined ? undefined : new URL(presign.publicBaseUrl);
  return {
    async urlFor(sha256) {
      const bucketStart = Math.floor(presign.now().getTime() / bucketMs) * bucketMs;
      let signed: string;
      try {
        signed = await getSignedUrl(client, new GetObjectCommand({ Bucket: connection.bucket, Key: keyOf(sha256) }), {
          signingDate: new Date(bucketStart),
          expiresIn: 2 * presign.expiresSeconds,
        });
      } catch (error) {
        // Only credentials resolution can fail here (the default chain's instance metadata, say).
        throw unavailable(error, `signing a URL for ${sha256}`);
      }
      if (base === undefined) return signed;
      const url = new URL(signed);
      const publicUrl = new URL(base.href);
      publicUrl.pathname = `${base.pathname.replace(/\/+$/, "")}${url.pathname}`;
      publicUrl.search = url.search;
      return publicUrl.href;
    },
  };
}

/** The temp file in buffers of `partBytes` (the last one shorter), read as a stream. */
async function* readParts(path: string, partBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let yielded = false;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= partBytes) {
      const all = Buffer.concat(pending);
      yield all.subarray(0, partBytes);
      yielded = true;
      pending = [all.subarray(partBytes)];
      pendingBytes = all.length - partBytes;
    }
  }
  // An empty file is still one (empty) part: S3 needs at least one to complete.
  if (pendingBytes > 0 || !yielded) yield Buffer.concat(pending);
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === "NotFound" || error.name === "NoSuchKey" || error.$metadata.httpStatusCode === 404)
  );
}

function unavailable(error: unknown, what: string): ConnectError {
  return new ConnectError(
    `object store unavailable (${what}); try again later`,
    Code.Unavailable,
    undefined,
    undefined,
    error,
  );
}
