import { randomUUID } from "node:crypto";
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
import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "pino";
import { parseRange } from "../asset-http/index.ts";
import { codeName } from "../audit/index.ts";
import { parseBearerToken } from "../auth/bearer.ts";
import type { TokenResolver } from "../auth/interceptor.ts";
import { type Principal, roleAtLeast } from "../auth/principal.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/index.ts";
import type { BlobStore } from "../content/blob-store.ts";
import { ingestUpload } from "../content/ingest.ts";
import type { MediaTools } from "../content/media.ts";
import { videoToProto } from "../content/service.ts";
import { AuditEvent, type RoleName, Video } from "../db/entities.ts";
import { TenantScope } from "../db/tenant-scope.ts";
import type { AnyRequest, AnyResponse, HttpRoute } from "../server/http-routes.ts";
import { isUuid } from "../validation.ts";

/** What the console's video endpoints need. */
export interface VideoRoutesDeps {
  orm: MikroORM;
  blobs: BlobStore;
  media: MediaTools;
  limits: Config["limits"];
  tokens: TokenResolver;
  clock: Clock;
  logger: Logger;
  /** Told about every finished upload, for metrics (as UploadVideo does). */
  onUpload?: (outcome: "stored" | "deduplicated" | "rejected", bytes: number) => void;
}

/** The audit action an HTTP upload is recorded under: the same as the RPC, so one query finds both. */
const uploadAction = "avtech.content.v1.ContentService/UploadVideo";

function sendError(req: AnyRequest, res: AnyResponse, error: ConnectError): void {
  const out = res as ServerResponse;
  const headers: Record<string, string> = { "content-type": "application/json", "cache-control": "no-store" };
  // An upload refused before its body was read: close the HTTP/1.1 connection rather than drain
  // up to the size limit of bytes nobody wants.
  if (req.httpVersionMajor === 1 && !(req as IncomingMessage).complete) headers.connection = "close";
  if (error.code === Code.Unauthenticated) headers["www-authenticate"] = "Bearer";
  out.writeHead(codeToHttpStatus(error.code), headers);
  out.end(JSON.stringify(errorToJson(error, undefined)));
}

/** The caller behind `authorization: Bearer <token>`; UNAUTHENTICATED when missing or unknown. */
async function authenticate(deps: VideoRoutesDeps, req: AnyRequest): Promise<Principal> {
  const secret = parseBearerToken(req.headers.authorization);
  const principal = secret ? await deps.tokens.resolve(secret) : undefined;
  if (!principal) {
    throw new ConnectError(
      "the bearer token is missing, unknown, expired or revoked: send `authorization: Bearer <session or API token>`",
      Code.Unauthenticated,
    );
  }
  return principal;
}

function authorize(principal: Principal, minRole: RoleName): void {
  if (!roleAtLeast(principal.role, minRole)) {
    throw new ConnectError(`this needs the ${minRole} role; the caller is ${principal.role}`, Code.PermissionDenied);
  }
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
 * stream). Runs the very ingest of UploadVideo (limits, quota, ffprobe, dedup, no leftovers on
 * failure), is audited under the same action, and answers the protobuf JSON of
 * UploadVideoResponse or a Connect error JSON with the code's HTTP status.
 */
async function upload(deps: VideoRoutesDeps, req: AnyRequest, res: AnyResponse): Promise<void> {
  let principal: Principal | undefined;
  let videoId = "";
  let after: Record<string, unknown> | null = null;
  let failure: ConnectError | undefined;
  let authorized = false;
  try {
    principal = await authenticate(deps, req);
    // Authorised after the principal is known so that, as for RPCs, a refused upload is audited.
    authorize(principal, "editor");
    authorized = true;
    const { fileName, sizeBytes } = uploadHeaders(req);
    const scope = new TenantScope(deps.orm.em.fork(), principal.tenantId);
    const result = await ingestUpload(deps, scope, principal, uploadMessages(req, fileName, sizeBytes));
    videoId = result.video.id;
    after = { id: videoId, name: result.video.name, sha256: result.video.sha256, sizeBytes: result.video.sizeBytes };
    deps.onUpload?.(result.deduplicated ? "deduplicated" : "stored", result.video.sizeBytes);
    const body = toJson(
      UploadVideoResponseSchema,
      create(UploadVideoResponseSchema, { video: videoToProto(result.video), deduplicated: result.deduplicated }),
    );
    (res as ServerResponse).writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  } catch (error) {
    failure = ConnectError.from(error);
    // Counted like UploadVideo, whose handler (and metric) runs only for authorised callers.
    if (authorized) deps.onUpload?.("rejected", 0);
    if (failure.code === Code.Internal || failure.code === Code.Unknown) {
      deps.logger.error({ err: error }, "upload over HTTP failed");
      failure = new ConnectError("the upload failed on the server; try again", failure.code);
    }
    sendError(req, res, failure);
  } finally {
    if (principal) await audit(deps, principal, videoId, after, failure);
  }
}

async function audit(
  deps: VideoRoutesDeps,
  principal: Principal,
  subjectId: string,
  after: Record<string, unknown> | null,
  failure: ConnectError | undefined,
): Promise<void> {
  try {
    const em = deps.orm.em.fork();
    em.create(AuditEvent, {
      id: randomUUID(),
      tenant: principal.tenantId,
      at: deps.clock.now(),
      actorId: principal.actorId,
      actorName: principal.actorName,
      action: uploadAction,
      subjectType: "video",
      subjectId,
      before: null,
      after: failure ? null : after,
      result: failure ? codeName(failure.code) : "ok",
      message: failure ? failure.rawMessage : "",
    });
    await em.flush();
  } catch (writeError) {
    // As for RPCs: the upload's own outcome stands; a lost audit row is an operator alarm.
    deps.logger.error({ err: writeError, action: uploadAction }, "could not write audit event");
  }
}

/**
 * GET/HEAD /v1/videos/<id>/file: the clip's bytes with its content type, for any role of the
 * video's tenant (another tenant's id answers 404 like a missing one). Supports one `bytes=` Range.
 */
async function file(deps: VideoRoutesDeps, req: AnyRequest, res: AnyResponse, id: string): Promise<void> {
  try {
    const principal = await authenticate(deps, req);
    authorize(principal, "viewer");
    const video = isUuid(id)
      ? await new TenantScope(deps.orm.em.fork(), principal.tenantId).findOne(Video, { id })
      : null;
    const size = video ? await deps.blobs.size(video.sha256) : undefined;
    if (!video || size === undefined) throw new ConnectError(`no video with id ${id} in your tenant`, Code.NotFound);
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

/** The console's plain-HTTP video endpoints: `POST /v1/videos` and `GET /v1/videos/<id>/file`. */
export function createVideoRoutes(deps: VideoRoutesDeps): HttpRoute {
  const filePath = /^\/v1\/videos\/([^/]+)\/file$/;
  return async (req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/v1/videos") {
      if (req.method !== "POST") return false;
      await upload(deps, req, res);
      return true;
    }
    const match = filePath.exec(path);
    if (!match || (req.method !== "GET" && req.method !== "HEAD")) return false;
    await file(deps, req, res, match[1] ?? "");
    return true;
  };
}
