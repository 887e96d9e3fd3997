import { createHash, randomUUID } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import { WriteBehind } from "@avtech/io";
import type { UploadVideoMetadata, UploadVideoRequest } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { type EntityManager, LockMode, UniqueConstraintViolationException } from "@mikro-orm/postgresql";
import type { Principal } from "../../platform/auth/principal.ts";
import type { Config } from "../../platform/config/index.ts";
import { Tenant, Video } from "../../platform/db/entities.ts";
import type { TenantScope } from "../../platform/db/tenant-scope.ts";
import type { BlobStore } from "./blob-store.ts";
import type { MediaTools } from "./media.ts";
import { displayName, sanitizeFileName } from "./names.ts";
import { acceptMedia } from "./validate.ts";

/** What an upload needs. */
export interface IngestDeps {
  blobs: BlobStore;
  media: MediaTools;
  limits: Config["limits"];
}

/** The result of an upload. */
export interface IngestResult {
  video: Video;
  deduplicated: boolean;
}

const mib = 1024 * 1024;
/** Largest chunk accepted whatever readMaxBytes allows: bounds the memory one message pins. */
const maxChunkBytes = 4 * mib;

function exhausted(message: string): ConnectError {
  return new ConnectError(message, Code.ResourceExhausted);
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

function formatBytes(bytes: number): string {
  return bytes >= mib ? `${(bytes / mib).toFixed(1)} MiB` : `${bytes} bytes`;
}

/** Bytes the tenant's videos use, and its quota. */
export async function storageUsage(
  em: EntityManager,
  tenantId: string,
): Promise<{ usedBytes: number; quotaBytes: number; count: number }> {
  const tenant = await em.findOneOrFail(Tenant, { id: tenantId });
  const [row] = await em
    .getConnection()
    .execute<{ used: string | null; count: string }[]>(
      "select coalesce(sum(size_bytes), 0) as used, count(*) as count from videos where tenant_id = ?",
      [tenantId],
      "all",
      em.getTransactionContext(),
    );
  return { usedBytes: Number(row?.used ?? 0), quotaBytes: tenant.storageQuotaBytes, count: Number(row?.count ?? 0) };
}

/**
 * Advisory lock on a sha256 for the rest of the transaction: taken by ingest (put blob + insert
 * row) and delete (remove row + maybe blob), so a blob is never removed under a new row.
 */
export async function lockSha(em: EntityManager, sha256: string): Promise<void> {
  await em
    .getConnection()
    .execute("select pg_advisory_xact_lock(hashtextextended(?, 0))", [sha256], "all", em.getTransactionContext());
}

/**
 * Ingests one UploadVideo stream: metadata first, then chunks streamed into a temp file in the
 * blob store's tmp folder while hashing, with the size limit and tenant quota enforced per chunk;
 * then dedup by sha256 within the tenant, ffprobe checks, a thumbnail, the blob moved into place
 * and the row committed. Whatever fails, no temp file, no blob and no row are left behind.
 */
export async function ingestUpload(
  deps: IngestDeps,
  scope: TenantScope,
  principal: Principal,
  messages: AsyncIterable<UploadVideoRequest>,
): Promise<IngestResult> {
  const iterator = messages[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done || first.value.part.case !== "metadata") {
    throw invalid("the first message of an upload must carry metadata (file_name, size_bytes)");
  }
  const metadata: UploadVideoMetadata = first.value.part.value;
  const originalName = sanitizeFileName(metadata.fileName);
  const name = displayName(metadata.name, originalName);
  const expectedSha = metadata.sha256.trim().toLowerCase();
  if (expectedSha && !/^[0-9a-f]{64}$/.test(expectedSha)) throw invalid("sha256 must be 64 hex characters or empty");

  const usage = await storageUsage(scope.em, scope.tenantId);
  const maxBytes = deps.limits.maxUploadBytes;
  const quotaLeft = Math.max(0, usage.quotaBytes - usage.usedBytes);
  const quotaMessage = (size: number) =>
    `the upload (${formatBytes(size)}) does not fit in the tenant's storage quota: ${formatBytes(usage.usedBytes)} of ${formatBytes(usage.quotaBytes)} used; delete videos or ask for a larger quota`;
  const declared = Number(metadata.sizeBytes);
  if (declared > maxBytes)
    throw exhausted(`the file is ${formatBytes(declared)}; the limit is ${formatBytes(maxBytes)}`);
  if (declared > quotaLeft) throw exhausted(quotaMessage(declared));

  const tempFiles: string[] = [];
  let claimedBlob: string | undefined;
  try {
    const temp = await deps.blobs.tempPath(".part");
    tempFiles.push(temp);
    const { sha256, size } = await receiveToFile(temp, iterator, videoChunk, (total) => {
      if (total > maxBytes) throw exhausted(`the file is larger than the limit of ${formatBytes(maxBytes)}`);
      if (total > quotaLeft) throw exhausted(quotaMessage(total));
    });
    if (size === 0) throw invalid("the upload contained no bytes");
    if (declared > 0 && size !== declared) {
      throw invalid(`the upload ended after ${size} bytes but size_bytes said ${declared}; the transfer was cut short`);
    }
    if (expectedSha && expectedSha !== sha256) {
      throw invalid("the uploaded bytes do not match the sha256 in the metadata; the transfer was corrupted");
    }

    const existing = await scope.findOne(Video, { sha256 });
    if (existing) return { video: existing, deduplicated: true };

    const thumbnailTemp = await deps.blobs.tempPath(".jpg");
    tempFiles.push(thumbnailTemp);
    // Probe, thumbnail and the data fsync are independent: overlapping them is most of ingest latency.
    const [probed, thumbnailMade] = await Promise.all([
      deps.media.probe(temp),
      deps.media.thumbnail(temp, thumbnailTemp),
      syncFile(temp),
    ]);
    const accepted = acceptMedia(probed, deps.limits);
    const thumbnailSha = thumbnailMade
      ? createHash("sha256")
          .update(await readFile(thumbnailTemp))
          .digest("hex")
      : null;

    try {
      const video = await scope.transactional(async (tx) => {
        // Quota again under a row lock: two parallel uploads must not both squeeze into the last bytes.
        await tx.em.findOneOrFail(Tenant, { id: tx.tenantId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        const now = await storageUsage(tx.em, tx.tenantId);
        if (now.usedBytes + size > now.quotaBytes) throw exhausted(quotaMessage(size));
        await lockSha(tx.em, sha256);
        const blobExisted = await deps.blobs.exists(sha256);
        await deps.blobs.putFile(sha256, temp);
        if (!blobExisted) claimedBlob = sha256;
        if (thumbnailSha) await deps.blobs.putFile(thumbnailSha, thumbnailTemp);
        const row = tx.create(Video, {
          id: randomUUID(),
          sha256,
          sizeBytes: size,
          durationMs: accepted.durationMs,
          codec: accepted.codec,
          width: accepted.width,
          height: accepted.height,
          name,
          originalName,
          contentType: accepted.contentType,
          thumbnailSha256: thumbnailSha,
          createdBy: principal.actorId,
        });
        await tx.em.flush();
        return row;
      });
      claimedBlob = undefined;
      return { video, deduplicated: false };
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        // A parallel upload of the same file won: answer with its row.
        const winner = await scope.em.fork().findOne(Video, { sha256, tenant: scope.tenantId });
        if (winner) {
          claimedBlob = undefined;
          return { video: winner, deduplicated: true };
        }
      }
      throw error;
    }
  } finally {
    if (claimedBlob) await removeUnreferencedBlob(scope.em.fork(), deps.blobs, claimedBlob);
    await Promise.all(tempFiles.map((file) => rm(file, { force: true })));
  }
}

/** Deletes a blob when no video row of any tenant references it (as file or thumbnail). */
export async function removeUnreferencedBlob(em: EntityManager, blobs: BlobStore, sha256: string): Promise<void> {
  await em.transactional(async (tx) => {
    await lockSha(tx, sha256);
    const used = await tx.count(Video, { $or: [{ sha256 }, { thumbnailSha256: sha256 }] });
    if (used === 0) await blobs.delete(sha256);
  });
}

function videoChunk(message: UploadVideoRequest): Uint8Array {
  if (message.part.case !== "chunk") {
    throw invalid("metadata may appear only once, in the first message; later messages must carry chunks");
  }
  return message.part.value;
}

/**
 * Streams the rest of an upload into a new file at `path` (on the blob store's file system),
 * hashing as it goes: `chunkOf` takes each message's bytes (and throws for a message that carries
 * none), `check` sees the running total after each chunk and throws to stop (size limit, quota).
 * Chunks are at most 4 MiB. Returns the file's sha256 and size; the caller fsyncs and removes it.
 * Used by UploadVideo and by the update feature's UploadRelease.
 */
export async function receiveToFile<T>(
  path: string,
  iterator: AsyncIterator<T>,
  chunkOf: (message: T) => Uint8Array,
  check: (total: number) => void,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  const file = await open(path, "wx");
  // Writes run behind the network reads in 1 MiB batches (at most 8 MiB queued), so receiving,
  // hashing and disk I/O overlap; the data is flushed every 16 MiB while the transfer goes on.
  const writer = new WriteBehind(file, { batchBytes: mib, maxQueuedBytes: 8 * mib, syncEveryBytes: 16 * mib });
  let size = 0;
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      const chunk = chunkOf(next.value);
      if (chunk.byteLength > maxChunkBytes) {
        throw invalid(`a chunk must be at most ${formatBytes(maxChunkBytes)}; send the file in smaller chunks`);
      }
      size += chunk.byteLength;
      check(size);
      hash.update(chunk);
      await writer.push(chunk);
    }
    await writer.finish();
  } finally {
    await writer.settle();
    await file.close();
  }
  return { sha256: hash.digest("hex"), size };
}

/** fsync of a file's data (before it is renamed into the blob store). */
export async function syncFile(path: string): Promise<void> {
  const file = await open(path, "r");
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}
