import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fsyncDir, isAbortError, isDiskError, isENOENT, messageOf } from "../storage/index.ts";
import { AssetFailure } from "./failure.ts";
import { inlineHasher, type StreamHasher, workerHasher } from "./hasher.ts";
import type { HttpGetter } from "./http.ts";

/** Downloads at least this large hash on a worker thread; default 8 MiB. */
export const workerHashThresholdBytes = 8 * 1024 * 1024;

/** What to download. */
export interface DownloadRequest {
  sha256: string;
  sizeBytes: number;
  url: URL;
}

/** Where a download goes and what it may use. */
export interface DownloadContext {
  http: HttpGetter;
  /** Final path (`media/v1/<sha>`); the part file is `<path>.part` beside it. */
  path: string;
  /** Extra request headers (e.g. authorization). */
  headers?: Readonly<Record<string, string>>;
  signal: AbortSignal;
  /** Called after each HTTP response is accepted, with the offset it resumed from (tests assert on it). */
  onResume?: (offset: number) => void;
}

/** What a finished download did. */
export interface DownloadOutcome {
  /** Bytes received over the network in this call. */
  receivedBytes: number;
  /** Offset the last attempt resumed from (0 = from scratch). */
  resumedFrom: number;
}

/**
 * Downloads an asset crash-safely: streams into `<path>.part` (resuming with HTTP Range from
 * what the part already holds, whose bytes are hashed first), hashes while streaming, fsyncs,
 * verifies the sha256 BEFORE the rename that makes it visible, renames, fsyncs the folder.
 * A mismatch after a resume retries once from scratch (a power cut can leave a torn tail in a
 * part); a mismatch from scratch deletes the part and fails with CHECKSUM_MISMATCH.
 * Failures are {@link AssetFailure}s; an abort rethrows the AbortError and keeps the part.
 */
export async function downloadAsset(req: DownloadRequest, ctx: DownloadContext): Promise<DownloadOutcome> {
  const part = `${ctx.path}.part`;
  let received = 0;
  let resumedFrom = 0;
  for (let attempt = 0; ; attempt++) {
    const offset = await partSize(part, req.sizeBytes);
    const result = await fetchInto(req, ctx, part, offset);
    received += result.received;
    resumedFrom = result.resumedFrom;
    if (result.sha256 === req.sha256) break;
    await rm(part, { force: true });
    if (result.resumedFrom > 0 && attempt === 0) continue;
    throw new AssetFailure(
      "CHECKSUM_MISMATCH",
      `GET ${req.url.href}: sha256 is ${result.sha256}, the manifest says ${req.sha256}; the file was discarded and will be fetched again`,
      { assetSha256: req.sha256 },
    );
  }
  try {
    await rename(part, ctx.path);
    await fsyncDir(dirOf(ctx.path));
  } catch (error) {
    throw diskFailure(req, error);
  }
  return { receivedBytes: received, resumedFrom };
}

async function partSize(part: string, expected: number): Promise<number> {
  try {
    const size = (await stat(part)).size;
    if (size <= expected) return size;
    await rm(part, { force: true });
    return 0;
  } catch (error) {
    if (isENOENT(error)) return 0;
    throw error;
  }
}

interface FetchResult {
  sha256: string;
  received: number;
  resumedFrom: number;
}

async function fetchInto(
  req: DownloadRequest,
  ctx: DownloadContext,
  part: string,
  offset: number,
): Promise<FetchResult> {
  const newHasher = () => (req.sizeBytes >= workerHashThresholdBytes ? workerHasher() : inlineHasher());
  let hasher = newHasher();
  try {
    if (offset > 0) {
      for await (const chunk of createReadStream(part, { end: offset - 1, signal: ctx.signal })) hasher.update(chunk);
    }
    if (offset === req.sizeBytes) return { sha256: await hasher.digest(), received: 0, resumedFrom: offset };

    const headers: Record<string, string> = { ...ctx.headers };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    let response: Awaited<ReturnType<HttpGetter["get"]>>;
    try {
      response = await ctx.http.get(req.url, headers, ctx.signal);
    } catch (error) {
      throw networkFailure(req, error);
    }
    let start = offset;
    if (response.status === 200) {
      start = 0;
    } else if (response.status === 206) {
      const rangeStart = /^bytes (\d+)-/.exec(response.headers["content-range"] ?? "")?.[1];
      if (Number(rangeStart) !== offset) {
        response.body.destroy();
        await rm(part, { force: true });
        throw new AssetFailure(
          "DOWNLOAD_FAILED",
          `GET ${req.url.href}: asked for bytes from ${offset}, the server sent "${response.headers["content-range"]}"; will retry from scratch`,
          { assetSha256: req.sha256 },
        );
      }
    } else {
      response.body.destroy();
      if (response.status === 416) await rm(part, { force: true });
      if (response.status === 404 || response.status === 410) {
        throw new AssetFailure("ASSET_NOT_FOUND", `GET ${req.url.href}: ${response.status}`, {
          assetSha256: req.sha256,
        });
      }
      throw new AssetFailure("DOWNLOAD_FAILED", `GET ${req.url.href}: HTTP ${response.status}`, {
        assetSha256: req.sha256,
      });
    }
    ctx.onResume?.(start);
    if (start === 0 && offset > 0) {
      // The server ignored the Range header: start over, bytes and hash.
      hasher.close();
      hasher = newHasher();
    }
    const meter = new HashingMeter(hasher, req.sizeBytes - start);
    // "a" appends after the bytes already hashed; "w" starts a new part file. `flush` fsyncs
    // before close, so the part's bytes are durable before the rename that publishes them.
    const out = createWriteStream(part, { flags: start === 0 ? "w" : "a", mode: 0o644, flush: true });
    try {
      await pipeline(response.body, meter, out, { signal: ctx.signal });
    } catch (error) {
      if (isAbortError(error)) throw error;
      if (error instanceof AssetFailure) {
        await rm(part, { force: true });
        throw error;
      }
      if (isDiskError(error)) throw diskFailure(req, error);
      throw networkFailure(req, error);
    }
    return { sha256: await hasher.digest(), received: meter.bytes, resumedFrom: start };
  } finally {
    hasher.close();
  }
}

/** Hashes and counts bytes on their way to the file, refusing more than the manifest's size. */
class HashingMeter extends Transform {
  bytes = 0;
  readonly #hasher: StreamHasher;
  readonly #limit: number;

  constructor(hasher: StreamHasher, limit: number) {
    super();
    this.#hasher = hasher;
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.#limit) {
      callback(new AssetFailure("CHECKSUM_MISMATCH", `the server sent more than the manifest's ${this.#limit} bytes`));
      return;
    }
    this.#hasher.update(chunk);
    callback(null, chunk);
  }
}

function networkFailure(req: DownloadRequest, error: unknown): unknown {
  if (isAbortError(error) || error instanceof AssetFailure) return error;
  return new AssetFailure("DOWNLOAD_FAILED", `GET ${req.url.href}: ${messageOf(error)}; will resume`, {
    assetSha256: req.sha256,
    cause: error,
  });
}

function diskFailure(req: DownloadRequest, error: unknown): AssetFailure {
  return new AssetFailure("DISK_ERROR", `writing asset ${req.sha256}: ${messageOf(error)}`, {
    assetSha256: req.sha256,
    cause: error,
  });
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}
