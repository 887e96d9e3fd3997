import { createReadStream } from "node:fs";
import { type FileHandle, open, rename, rm, stat } from "node:fs/promises";
import { addAbortSignal, type Readable } from "node:stream";
import { WriteBehind, type WriteBehindOptions } from "@avtech/io";
import { fsyncDir, isAbortError, isDiskError, isENOENT, messageOf } from "../storage/index.ts";
import { AssetFailure } from "./failure.ts";
import { cpuHasSha256Instructions, inlineHasher, type StreamHasher, workerHasher } from "./hasher.ts";
import type { HttpGetter, HttpResponse } from "./http.ts";

/** Downloads at least this large may hash on a worker thread (see {@link DownloadContext.hashing}). */
export const workerHashThresholdBytes = 8 * 1024 * 1024;

const mib = 1024 * 1024;

/**
 * How a part file is written, as the download benchmark measured best on the 2-core build
 * machine (`node player/bench/download.bench.ts`): 4 MiB `writev` batches with one write in
 * flight took a 200 MiB download from ~1 000 ms (one 64 KiB write per socket chunk through
 * `fs.createWriteStream`) to ~300-450 ms; 1 and 16 MiB batches were slower. The background
 * `fdatasync` every 32 MiB leaves little for the final fsync and, on a Raspberry Pi whose SD card
 * writes slower than its gigabit port receives, overlaps write-back with the download (and a
 * 1-2 GiB device never holds hundreds of MiB of dirty pages).
 */
const partWrites: WriteBehindOptions = { batchBytes: 4 * mib, maxQueuedBytes: 4 * mib, syncEveryBytes: 32 * mib };

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
  /**
   * Where sha256 runs for downloads of at least {@link workerHashThresholdBytes}: "inline" on the
   * receiving thread, "worker" on a worker thread. Default: inline when the CPU has SHA-256
   * instructions ({@link cpuHasSha256Instructions}), else worker.
   */
  hashing?: "inline" | "worker";
  /** Batch and background-sync sizes of the part file's writes (benchmarks and tests tune them). */
  writer?: Partial<WriteBehindOptions>;
  /**
   * Called with the bytes of the file received so far (resumed bytes included) after each chunk;
   * cheap to call, so callers throttle (the OS update reports progress at most every 5 s).
   */
  onProgress?: (bytesDone: number) => void;
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
  const hashing = ctx.hashing ?? (cpuHasSha256Instructions() ? "inline" : "worker");
  const offThread = hashing === "worker" && req.sizeBytes >= workerHashThresholdBytes;
  const newHasher = () => (offThread ? workerHasher() : inlineHasher());
  let hasher = newHasher();
  try {
    if (offset > 0) {
      for await (const chunk of createReadStream(part, { end: offset - 1, signal: ctx.signal })) hasher.update(chunk);
    }
    if (offset === req.sizeBytes) return { sha256: await hasher.digest(), received: 0, resumedFrom: offset };

    const headers: Record<string, string> = { ...ctx.headers };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    let fetched = await getFollowingRedirects(req, ctx, headers);
    if (fetched.redirectedTo !== undefined && fetched.response.status !== 200 && fetched.response.status !== 206) {
      // A pre-signed URL that expired between the redirect and the request (or a CDN failing): ask the
      // control plane once more, which signs for the current time, before reporting a failure.
      fetched.response.body.destroy();
      fetched = await getFollowingRedirects(req, ctx, headers);
    }
    const { response } = fetched;
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
      const where = fetched.redirectedTo === undefined ? "" : ` (redirected to ${withoutQuery(fetched.redirectedTo)})`;
      if (response.status === 404 || response.status === 410) {
        throw new AssetFailure("ASSET_NOT_FOUND", `GET ${req.url.href}${where}: ${response.status}`, {
          assetSha256: req.sha256,
        });
      }
      throw new AssetFailure("DOWNLOAD_FAILED", `GET ${req.url.href}${where}: HTTP ${response.status}`, {
        assetSha256: req.sha256,
      });
    }
    ctx.onResume?.(start);
    if (start === 0 && offset > 0) {
      // The server ignored the Range header: start over, bytes and hash.
      hasher.close();
      hasher = newHasher();
    }
    const received = await receive(req, ctx, response.body, hasher, part, start);
    return { sha256: await hasher.digest(), received, resumedFrom: start };
  } finally {
    hasher.close();
  }
}

/** Redirects followed for one request; the control plane sends one (/assets → the object store or a CDN). */
export const maxRedirects = 5;

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** Request headers that carry credentials: never sent to an origin other than the asset URL's own. */
const credentialHeaders = new Set(["authorization", "cookie", "proxy-authorization"]);

interface Fetched {
  response: HttpResponse;
  /** The URL that answered when the first one redirected; undefined when it answered itself. */
  redirectedTo?: URL;
}

/**
 * GETs `req.url`, following redirects (at most {@link maxRedirects}) as a browser's fetch does:
 * the Range header goes along (a pre-signed S3 URL or a CDN serves ranges like /assets), and the
 * credential headers (the device token) are dropped as soon as a hop leaves the original origin,
 * so the token never reaches the object store, a CDN or their logs. Failures are AssetFailures.
 */
async function getFollowingRedirects(
  req: DownloadRequest,
  ctx: DownloadContext,
  headers: Readonly<Record<string, string>>,
): Promise<Fetched> {
  let url = req.url;
  let sent = headers;
  for (let hop = 0; ; hop++) {
    let response: HttpResponse;
    try {
      response = await ctx.http.get(url, sent, ctx.signal);
    } catch (error) {
      throw networkFailure(req, error);
    }
    const redirectedTo = url === req.url ? undefined : url;
    if (!redirectStatuses.has(response.status)) return redirectedTo ? { response, redirectedTo } : { response };
    response.body.destroy();
    const location = response.headers.location;
    let next: URL | undefined;
    try {
      next = location ? new URL(location, url) : undefined;
    } catch {
      next = undefined;
    }
    if (next === undefined || (next.protocol !== "http:" && next.protocol !== "https:")) {
      throw new AssetFailure(
        "DOWNLOAD_FAILED",
        `GET ${req.url.href}: HTTP ${response.status} without a usable http(s) Location (${location ?? "none"}); will retry`,
        { assetSha256: req.sha256 },
      );
    }
    if (hop + 1 > maxRedirects) {
      throw new AssetFailure(
        "DOWNLOAD_FAILED",
        `GET ${req.url.href}: more than ${maxRedirects} redirects; will retry`,
        {
          assetSha256: req.sha256,
        },
      );
    }
    if (next.origin !== req.url.origin) {
      sent = Object.fromEntries(Object.entries(sent).filter(([name]) => !credentialHeaders.has(name.toLowerCase())));
    }
    url = next;
  }
}

/** A URL for messages and logs: a pre-signed query string is a credential (anyone holding it may read). */
function withoutQuery(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * Streams the body into the part file from byte `start`, hashing each chunk as it arrives and
 * refusing more than the manifest's size; fsyncs before returning. Returns the bytes received.
 * On a dropped link or an abort what arrived is still written, so the resume asks for the next
 * byte; the part is deleted only when the server sent too much.
 */
async function receive(
  req: DownloadRequest,
  ctx: DownloadContext,
  body: Readable,
  hasher: StreamHasher,
  part: string,
  start: number,
): Promise<number> {
  const limit = req.sizeBytes - start;
  let file: FileHandle;
  try {
    // "a" appends after the `start` bytes already hashed; "w" starts a new part file.
    file = await open(part, start === 0 ? "w" : "a", 0o644);
  } catch (error) {
    body.destroy();
    throw diskFailure(req, error);
  }
  const writer = new WriteBehind(file, { ...partWrites, ...ctx.writer });
  addAbortSignal(ctx.signal, body);
  let bytes = 0;
  let received = false;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > limit) {
        throw new AssetFailure(
          "CHECKSUM_MISMATCH",
          `GET ${req.url.href}: the server sent more than the manifest's ${req.sizeBytes} bytes`,
          { assetSha256: req.sha256 },
        );
      }
      hasher.update(chunk);
      await writer.push(chunk);
      ctx.onProgress?.(start + bytes);
    }
    received = true;
    // The part's bytes are durable before the rename that publishes them.
    await writer.finish();
    await file.sync();
    return bytes;
  } catch (error) {
    if (!received) {
      body.destroy();
      // Best effort: write what arrived, so the resume starts from the last byte received (a
      // torn tail is caught by the hash and fetched again); the download's own error is reported.
      await writer.finish().catch(() => undefined);
    }
    if (error instanceof AssetFailure) {
      await rm(part, { force: true });
      throw error;
    }
    if (isAbortError(error)) throw error;
    if (received || isDiskError(error)) throw diskFailure(req, error);
    throw networkFailure(req, error);
  } finally {
    // After the fsync above a failed close loses nothing; on the error paths the first error is the one to report.
    await file.close().catch(() => undefined);
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
