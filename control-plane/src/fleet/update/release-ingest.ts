import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import type { UploadReleaseRequest } from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { type BlobStore, receiveToFile, syncFile } from "../../core/content/index.ts";
import type { Clock } from "../../platform/clock.ts";
import type { ReleaseRecord, UpdateStore } from "./ports.ts";
import { type BundleVerifier, VerifierUnavailable } from "./rauc.ts";

/** Longest release notes (UploadReleaseMetadata.notes). */
export const maxNotesLength = 2000;
/** Longest version string kept (the column's size). */
const maxVersionLength = 200;
const mib = 1024 * 1024;

/** What an UploadRelease needs. */
export interface ReleaseIngestDeps {
  blobs: BlobStore;
  store: Pick<UpdateStore, "insertRelease" | "removeBlobIfUnused">;
  /** Undefined when `update.keyringPath` is not configured: every upload is refused. */
  verifier: BundleVerifier | undefined;
  /** `update.compatible`; undefined refuses every upload. */
  compatible: string | undefined;
  /** `limits.maxBundleBytes`. */
  maxBundleBytes: number;
  clock: Clock;
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

function formatBytes(bytes: number): string {
  return bytes >= mib ? `${(bytes / mib).toFixed(1)} MiB` : `${bytes} bytes`;
}

function bundleChunk(message: UploadReleaseRequest): Uint8Array {
  if (message.part.case !== "chunk") {
    throw invalid("metadata may appear only once, in the first message; later messages must carry chunks");
  }
  return message.part.value;
}

/**
 * Ingests one UploadRelease stream, as the content ingest does a video: metadata first, then the
 * bundle streamed into a temp file in the blob store's tmp folder while hashing, with the size
 * limit checked per chunk; then `rauc info` checks the signature against the fleet's keyring and
 * the manifest's compatible against `update.compatible`; then, under the sha256's advisory lock,
 * the blob is moved into place and the row inserted (ALREADY_EXISTS for a version the tenant
 * has). Whatever fails, no temp file, no blob no row references, and no row are left.
 */
export async function ingestRelease(
  deps: ReleaseIngestDeps,
  uploader: { tenantId: string; actorId: string },
  messages: AsyncIterable<UploadReleaseRequest>,
): Promise<ReleaseRecord> {
  const iterator = messages[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done || first.value.part.case !== "metadata") {
    throw invalid("the first message of an upload must carry metadata (size_bytes, notes)");
  }
  const metadata = first.value.part.value;
  const { verifier, compatible } = deps;
  if (!verifier || !compatible) {
    const missing = [
      compatible ? undefined : "update.compatible (AVTECH_UPDATE_COMPATIBLE)",
      verifier ? undefined : "update.keyringPath (AVTECH_UPDATE_KEYRING)",
    ].filter(Boolean);
    throw new ConnectError(
      `this control plane cannot check OS bundles: its operator must set ${missing.join(" and ")}`,
      Code.FailedPrecondition,
    );
  }
  if (metadata.notes.length > maxNotesLength) {
    throw invalid(`notes must be at most ${maxNotesLength} characters, got ${metadata.notes.length}`);
  }
  const maxBytes = deps.maxBundleBytes;
  const declared = Number(metadata.sizeBytes);
  if (declared > maxBytes) {
    throw new ConnectError(
      `the bundle is ${formatBytes(declared)}; the limit is ${formatBytes(maxBytes)} (limits.maxBundleBytes)`,
      Code.ResourceExhausted,
    );
  }

  const temp = await deps.blobs.tempPath(".raucb");
  let keptSha: string | undefined;
  try {
    const { sha256, size } = await receiveToFile(temp, iterator, bundleChunk, (total) => {
      if (total > maxBytes) {
        throw new ConnectError(
          `the bundle is larger than the limit of ${formatBytes(maxBytes)} (limits.maxBundleBytes)`,
          Code.ResourceExhausted,
        );
      }
    });
    if (size === 0) throw invalid("the upload contained no bytes");
    if (declared > 0 && size !== declared) {
      throw invalid(`the upload ended after ${size} bytes but size_bytes said ${declared}; the transfer was cut short`);
    }
    const [check] = await Promise.all([inspect(verifier, temp), syncFile(temp)]);
    if (!check.ok) {
      throw invalid(
        check.problem === "bad-signature"
          ? `the bundle's signature does not verify against the fleet's keyring (${check.detail}); sign it with a certificate issued by the fleet's CA`
          : `the file is not a RAUC bundle the screens can install (${check.detail}); upload a signed verity bundle (.raucb)`,
      );
    }
    const { info } = check;
    if (info.compatible !== compatible) {
      throw invalid(
        `the bundle is for compatible "${info.compatible}", but this fleet's screens are "${compatible}"; build it for "${compatible}"`,
      );
    }
    if (info.version === "")
      throw invalid("the bundle's manifest has no version; set [update] version=… and rebuild it");
    if (info.version.length > maxVersionLength) {
      throw invalid(`the bundle's version is longer than ${maxVersionLength} characters`);
    }
    const release: ReleaseRecord = {
      id: randomUUID(),
      tenantId: uploader.tenantId,
      version: info.version,
      compatible: info.compatible,
      sha256,
      sizeBytes: BigInt(size),
      signer: info.signer.slice(0, 1000),
      notes: metadata.notes,
      uploadedAt: deps.clock.now(),
      uploadedBy: uploader.actorId,
    };
    const { existing } = await deps.store.insertRelease(release, async () => {
      keptSha = sha256;
      await deps.blobs.putFile(sha256, temp);
    });
    if (existing) {
      throw new ConnectError(
        `release ${existing.version} already exists (id ${existing.id}); give the bundle a new version, or delete that release first`,
        Code.AlreadyExists,
      );
    }
    keptSha = undefined;
    return release;
  } finally {
    // A blob moved into place for a row that was not inserted goes again, unless a row uses it.
    const orphan = keptSha;
    if (orphan) await deps.store.removeBlobIfUnused(orphan, () => deps.blobs.delete(orphan));
    await rm(temp, { force: true });
  }
}

async function inspect(verifier: BundleVerifier, path: string) {
  try {
    return await verifier.inspect(path);
  } catch (error) {
    if (error instanceof VerifierUnavailable) {
      throw new ConnectError(
        `the control plane cannot check bundles now: ${error.message}`,
        Code.FailedPrecondition,
        undefined,
        undefined,
        error,
      );
    }
    throw error;
  }
}
