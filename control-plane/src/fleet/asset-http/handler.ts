import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isSha256Hex } from "@avtech/proto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { parseRange } from "../../platform/http/range.ts";
import { authenticateScreen } from "../device/device-token.ts";
import type { AssetCatalog, ScreenRecord, ScreenStore } from "../fleet/ports.ts";

/** Reads content-addressed blobs (the fs store today, S3 later). */
export interface BlobReader {
  /** Size of the blob, or undefined when it is not stored. */
  stat(sha256: string): Promise<{ size: number } | undefined>;
  /** The bytes start..end inclusive. */
  open(sha256: string, range: { start: number; end: number }): Promise<Readable>;
}

/**
 * Adapts a blob store that reports `size(sha)` (the content module's BlobStore) to a BlobReader.
 * Ranges are inclusive on both ends, as for `fs.createReadStream`.
 */
export function blobReaderFrom(store: {
  size(sha256: string): Promise<number | undefined>;
  open(sha256: string, range: { start: number; end: number }): Promise<Readable>;
}): BlobReader {
  return {
    stat: async (sha256) => {
      const size = await store.size(sha256);
      return size === undefined ? undefined : { size };
    },
    open: (sha256, range) => store.open(sha256, range),
  };
}

/** Where a screen may fetch a blob itself: pre-signed URLs of the object store (or a CDN in front of it). */
export interface AssetRedirect {
  /** A URL that serves the blob's bytes (with Range) to whoever holds it, for a while; no other credentials. */
  urlFor(sha256: string): Promise<string>;
}

/** Dependencies of {@link createAssetHandler}. */
export interface AssetHandlerDeps {
  blobs: BlobReader;
  /**
   * When given, a GET that passes the device-token and tenant checks is answered 307 with the URL
   * `redirect` gives, not with the bytes; HEAD and If-None-Match are still answered here. Default none.
   */
  redirect?: AssetRedirect;
  screens: Pick<ScreenStore, "findByTokenHash">;
  assets: AssetCatalog;
  logger: Logger;
}

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;

/**
 * GET/HEAD /assets/<sha256> for screens: authorised by the device token (the check DeviceService.Connect
 * makes, {@link authenticateScreen}; 401 with its message otherwise), only assets of the
 * screen's tenant (others answer 404 exactly like a missing one, so nothing leaks), with Range
 * (206/416), If-Range, ETag = the sha256 and immutable caching; with `redirect` (pre-signed S3 URLs)
 * a GET that passes those checks is answered 307 to the object instead. Returns false for other
 * paths so the caller can fall through to the Connect handler.
 */
export function createAssetHandler(deps: AssetHandlerDeps): (req: Request, res: Response) => boolean {
  return createScreenBlobHandler({
    prefix: "/assets/",
    what: "asset",
    blobs: deps.blobs,
    ...(deps.redirect ? { redirect: deps.redirect } : {}),
    screens: deps.screens,
    mayRead: (screen, sha256) => deps.assets.tenantHasAsset(screen.tenantId, sha256),
    logger: deps.logger,
  });
}

/** Dependencies of {@link createScreenBlobHandler}. */
export interface ScreenBlobHandlerDeps {
  /** The path prefix, e.g. "/assets/"; the sha256 follows it. */
  prefix: string;
  /** What the blobs are, for messages ("asset", "bundle"). */
  what: string;
  blobs: BlobReader;
  /** See {@link AssetHandlerDeps.redirect}; default none (the bytes are sent from here). */
  redirect?: AssetRedirect;
  screens: Pick<ScreenStore, "findByTokenHash">;
  /** The access rule: may this screen read the blob with this sha256? Refused ones answer 404 like missing ones. */
  mayRead(screen: ScreenRecord, sha256: string): Promise<boolean>;
  logger: Logger;
}

/**
 * GET/HEAD `<prefix><sha256>` for screens, as {@link createAssetHandler} serves assets (device
 * token, Range, If-Range, ETag, immutable caching) with the access rule `mayRead`: the asset
 * route and the OS update bundle route are this handler with their own rules.
 */
export function createScreenBlobHandler(deps: ScreenBlobHandlerDeps): (req: Request, res: Response) => boolean {
  return (req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    if (!path.startsWith(deps.prefix)) return false;
    serve(deps, req, res, path.slice(deps.prefix.length)).catch((error: unknown) => {
      // The object store down (ConnectError UNAVAILABLE from the S3 store) is a 503 the screen retries,
      // not a server fault: one warning per request, no stack.
      const unavailable = error instanceof ConnectError && error.code === Code.Unavailable;
      if (unavailable) deps.logger.warn({ path, reason: error.rawMessage }, `${deps.what} request failed`);
      else deps.logger.error({ err: error, path }, `${deps.what} request failed`);
      if (res.headersSent) res.destroy();
      else if (unavailable) {
        res.setHeader("retry-after", "5");
        send(res, 503, `${deps.what} storage unavailable; try again later`);
      } else send(res, 500, `${deps.what} could not be read`);
    });
    return true;
  };
}

async function serve(deps: ScreenBlobHandlerDeps, req: Request, res: Response, sha256: string): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return send(res, 405, "use GET or HEAD");
  }
  let screen: ScreenRecord;
  try {
    ({ screen } = await authenticateScreen(deps.screens, req.headers.authorization));
  } catch (error) {
    if (!(error instanceof ConnectError) || error.code !== Code.Unauthenticated) throw error;
    res.setHeader("www-authenticate", "Bearer");
    return send(res, 401, error.rawMessage);
  }
  if (!isSha256Hex(sha256)) return send(res, 404, `no such ${deps.what}`);
  const etag = `"${sha256}"`;
  if (deps.redirect && req.method === "GET" && req.headers["if-none-match"] !== etag) {
    if (!(await deps.mayRead(screen, sha256))) return send(res, 404, `no such ${deps.what}`);
    // No HEAD to the store first: saving the store that round trip per download is the point. A blob
    // missing from the store answers 404 there, which the player reports like this route's 404.
    const location = await deps.redirect.urlFor(sha256);
    res.statusCode = 307;
    res.setHeader("location", location);
    // The answer is for one authenticated screen: no shared cache may keep it (the target URL may be cached).
    res.setHeader("cache-control", "private, no-store");
    res.end();
    return;
  }
  const stat = (await deps.mayRead(screen, sha256)) ? await deps.blobs.stat(sha256) : undefined;
  if (!stat) return send(res, 404, `no such ${deps.what}`);

  res.setHeader("etag", etag);
  res.setHeader("cache-control", "public, max-age=31536000, immutable");
  res.setHeader("accept-ranges", "bytes");
  res.setHeader("content-type", "application/octet-stream");
  if (req.headers["if-none-match"] === etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  let start = 0;
  let end = stat.size - 1;
  let partial = false;
  const rangeHeader = req.headers.range;
  const ifRange = req.headers["if-range"];
  if (typeof rangeHeader === "string" && (ifRange === undefined || ifRange === etag)) {
    const range = parseRange(rangeHeader, stat.size);
    if (range === "unsatisfiable") {
      res.setHeader("content-range", `bytes */${stat.size}`);
      return send(res, 416, "range not satisfiable");
    }
    if (range) {
      ({ start, end } = range);
      partial = true;
      res.setHeader("content-range", `bytes ${start}-${end}/${stat.size}`);
    }
  }
  res.statusCode = partial ? 206 : 200;
  res.setHeader("content-length", String(Math.max(0, end - start + 1)));
  if (req.method === "HEAD" || stat.size === 0) {
    res.end();
    return;
  }
  await pipeline(await deps.blobs.open(sha256, { start, end }), res);
}

function send(res: Response, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.end(`${message}\n`);
}
