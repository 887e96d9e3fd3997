import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import {
  type UploadVideoRequest,
  UploadVideoRequestSchema,
  UploadVideoResponseSchema,
} from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { create, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "pino";
import { httpRoutes } from "../../platform/auth/policy.ts";
import type { Config } from "../../platform/config/index.ts";
import { Video } from "../../platform/db/entities.ts";
import { parseRange } from "../../platform/http/range.ts";
import type { HttpAccess } from "../../platform/server/http-access.ts";
import type { AnyRequest, AnyResponse, HttpRoute } from "../../platform/server/http-routes.ts";
import { isUuid } from "../../platform/validation.ts";
import type { BlobStore } from "./blob-store.ts";
import { ingestUpload } from "./ingest.ts";
import type { MediaTools } from "./media.ts";
import { videoSnapshot, videoToProto } from "./service.ts";

/** What the console's video endpoints need. */
export interface VideoRoutesDeps {
  blobs: BlobStore;
  media: MediaTools;
  limits: Config["limits"];
  /** Authentication, role check, tenant scope and audit: the RPC interceptors' steps. */
  access: HttpAccess;
  logger: Logger;
  /** Told about every finished upload, for metrics (as UploadVideo does). */
  onUpload?: (outcome: "stored" | "deduplicated" | "rejected", bytes: number) => void;
}

/**
 * Answers a plain HTTP route's refusal as the Connect protocol does: the code's HTTP status and
 * the Connect error JSON (also used by the update feature's release upload route).
 */
export function sendError(req: AnyRequest, res: AnyResponse, error: ConnectError): void {
  const out = res as ServerResponse;
  const headers: Record<string, string> = { "content-type": "application/json", "cache-control": "no-store" };
  // An upload refused before its body was read: close the HTTP/1.1 connection rather than drain
  // up to the size limit of bytes nobody wants.
  if (req.httpVersionMajor === 1 && !(req as IncomingMessage).complete) headers.connection = "close";
  if (error.code === Code.Unauthenticated) headers["www-authenticate"] = "Bearer";
  out.writeHead(codeToHttpStatus(error.code), headers);
  out.end(JSON.stringify(errorToJson(error, undefined)));
}

/** The raw body as UploadVideo messages: metadata from the headers, then the body's chunks. */
async function* uploadMessages(
  req: AnyRequest,
  fileName: string,
  sizeBytes: bigint,
): AsyncIterable<UploadVideoRequest> {
  yield create(UploadVideoRequestSchema, { part: { case: "metadata", value: { fileName, sizeBytes } } });
  // Each body chunk is a Buffer of its own (a Uint8Array): handed on without a copy.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    yield create(UploadVideoRequestSchema, { part: { case: "chunk", value: chunk } });
  }
}

function uploadHeaders(req: AnyRequest): { fileName: string; sizeBytes: bigint } {
  let fileName: string;
  try {
    fileName = decodeURIComponent(String(req.headers["x-file-name"] ?? ""));
  } catch {
    throw new ConnectError("x-file-name must be the URI-encoded file name (encodeURIComponent)", Code.InvalidArgument);
  }
  if (!fileName) throw new ConnectError("send the file name in x-file-name (URI-encoded)", Code.InvalidArgument);
  const length = req.headers["content-length"];
  if (length !== undefined && !/^\d+$/.test(String(length))) {
    throw new ConnectError("content-length must be the body's size in bytes", Code.InvalidArgument);
  }
  return { fileName, sizeBytes: BigInt(length ?? 0) };
}

/**
 * POST /v1/videos: one clip as the raw request body (the browser cannot send UploadVideo's client
 * stream). Runs as UploadVideo (its role, its audit row) and through the very ingest of UploadVideo
 * (limits, quota, ffprobe, dedup, no leftovers on failure), and answers the protobuf JSON of
 * UploadVideoResponse or a Connect error JSON with the code's HTTP status.
 */
async function upload(deps: VideoRoutesDeps, req: AnyRequest, res: AnyResponse): Promise<void> {
  try {
    const result = await deps.access.run(req, httpRoutes.uploadVideo, async ({ principal, scope, note }) => {
      // From here on as UploadVideo's handler: subject, metrics (only for authorised callers).
      note({ subjectType: "video" });
      try {
        const { fileName, sizeBytes } = uploadHeaders(req);
        const ingested = await ingestUpload(deps, scope, principal, uploadMessages(req, fileName, sizeBytes));
        note({ subjectId: ingested.video.id, after: videoSnapshot(ingested.video) });
        deps.onUpload?.(ingested.deduplicated ? "deduplicated" : "stored", ingested.video.sizeBytes);
        return ingested;
      } catch (error) {
        deps.onUpload?.("rejected", 0);
        throw error;
      }
    });
    // Answered once the audit row is written, as refusals are: a client that saw the answer finds the row.
    const body = toJson(
      UploadVideoResponseSchema,
      create(UploadVideoResponseSchema, { video: videoToProto(result.video), deduplicated: result.deduplicated }),
    );
    (res as ServerResponse).writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  } catch (error) {
    let failure = ConnectError.from(error);
    if (failure.code === Code.Internal || failure.code === Code.Unknown) {
      deps.logger.error({ err: error }, "upload over HTTP failed");
      failure = new ConnectError("the upload failed on the server; try again", failure.code);
    }
    sendError(req, res, failure);
  }
}

/**
 * GET/HEAD /v1/videos/<id>/file: the clip's bytes with its content type, for whoever may call
 * GetVideo on it (another tenant's id answers 404 like a missing one). Supports one `bytes=` Range.
 */
async function file(deps: VideoRoutesDeps, req: AnyRequest, res: AnyResponse, id: string): Promise<void> {
  try {
    const { video, size } = await deps.access.run(req, httpRoutes.videoFile, async ({ scope }) => {
      const found = isUuid(id) ? await scope.findOne(Video, { id }) : null;
      const bytes = found ? await deps.blobs.size(found.sha256) : undefined;
      if (!found || bytes === undefined) throw new ConnectError(`no video with id ${id} in your tenant`, Code.NotFound);
      return { video: found, size: bytes };
    });
    const out = res as ServerResponse;
    const etag = `"${video.sha256}"`;
    out.setHeader("content-type", video.contentType || "application/octet-stream");
    out.setHeader("cache-control", "private, max-age=86400");
    out.setHeader("accept-ranges", "bytes");
    out.setHeader("etag", etag);
    let start = 0;
    let end = size - 1;
    const range = typeof req.headers.range === "string" ? parseRange(req.headers.range, size) : undefined;
    if (range === "unsatisfiable") {
      out.setHeader("content-range", `bytes */${size}`);
      out.writeHead(416);
      out.end();
      return;
    }
    if (range) {
      ({ start, end } = range);
      out.setHeader("content-range", `bytes ${start}-${end}/${size}`);
    }
    out.setHeader("content-length", String(Math.max(0, end - start + 1)));
    out.writeHead(range ? 206 : 200);
    if (req.method === "HEAD" || size === 0) {
      out.end();
      return;
    }
    await pipeline(await deps.blobs.open(video.sha256, { start, end }), out);
  } catch (error) {
    if (res.headersSent) throw error;
    sendError(req, res, ConnectError.from(error));
  }
}

/** The thumbnail route's plain-text answer to a refusal of its access checks; undefined for any other error. */
function thumbnailRefusal(error: unknown): { status: number; body: string } | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  switch (error.code) {
    case Code.Unauthenticated:
      return { status: 401, body: "send `authorization: Bearer <token>`\n" };
    case Code.PermissionDenied:
      return { status: 403, body: `${error.rawMessage}\n` };
    case Code.NotFound:
      return { status: 404, body: "no such thumbnail\n" };
    default:
      return undefined;
  }
}

/**
 * GET/HEAD /v1/videos/<id>/thumbnail.jpg, run as GetVideo (bearer auth, role and tenant checked);
 * refusals are answered in plain text, any other failure is left to the server's fallback (500).
 */
async function thumbnail(deps: VideoRoutesDeps, req: AnyRequest, res: AnyResponse, id: string): Promise<void> {
  let thumbnailSha256: string;
  try {
    thumbnailSha256 = await deps.access.run(req, httpRoutes.videoThumbnail, async ({ scope }) => {
      const video = isUuid(id) ? await scope.findOne(Video, { id }) : null;
      if (!video?.thumbnailSha256) throw new ConnectError("no such thumbnail", Code.NotFound);
      return video.thumbnailSha256;
    });
  } catch (error) {
    const refusal = thumbnailRefusal(error);
    if (!refusal) throw error;
    (res as ServerResponse).writeHead(refusal.status, {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
    });
    res.end(refusal.body);
    return;
  }
  const stream = await deps.blobs.open(thumbnailSha256);
  (res as ServerResponse).writeHead(200, {
    "content-type": "image/jpeg",
    "cache-control": "private, max-age=86400",
  });
  await pipeline(stream, res as ServerResponse);
}

/**
 * The console's plain-HTTP video endpoints: `POST /v1/videos`, `GET /v1/videos/<id>/file` and
 * `GET /v1/videos/<id>/thumbnail.jpg` (HEAD too for the last two); false for any other request.
 */
export function createVideoRoutes(deps: VideoRoutesDeps): HttpRoute {
  const filePath = /^\/v1\/videos\/([^/]+)\/file$/;
  const thumbnailRoute = /^\/v1\/videos\/([^/]+)\/thumbnail\.jpg$/;
  return async (req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/v1/videos") {
      if (req.method !== "POST") return false;
      await upload(deps, req, res);
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const fileMatch = filePath.exec(path);
    if (fileMatch) {
      await file(deps, req, res, fileMatch[1] ?? "");
      return true;
    }
    const thumbnailMatch = thumbnailRoute.exec(path);
    if (thumbnailMatch) {
      await thumbnail(deps, req, res, thumbnailMatch[1] ?? "");
      return true;
    }
    return false;
  };
}
