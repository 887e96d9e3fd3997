import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { pipeline } from "node:stream/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { BlobStore } from "../../core/content/blob-store.ts";
import { httpRoutes } from "../auth/policy.ts";
import { Video } from "../db/entities.ts";
import { isUuid } from "../validation.ts";
import type { HttpAccess } from "./http-access.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Readiness } from "./readiness.ts";

/** A request/response pair from either the HTTP/1.1 or the HTTP/2 server. */
export type AnyRequest = IncomingMessage | Http2ServerRequest;
/** The response side of {@link AnyRequest}. */
export type AnyResponse = ServerResponse | Http2ServerResponse;

/** A plain HTTP route beside Connect; resolves true when it handled the request. */
export type HttpRoute = (req: AnyRequest, res: AnyResponse) => Promise<boolean> | boolean;

/** What the built-in routes need. */
export interface HttpRoutesDeps {
  readiness: Readiness;
  metrics: ServerMetrics;
  blobs: BlobStore;
  /** Authentication, role check and tenant scope: the RPC interceptors' steps. */
  access: HttpAccess;
  logger: Logger;
  /** More routes (asset downloads, console files), tried after the built-in ones. */
  extra?: readonly HttpRoute[];
}

function send(res: AnyResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  (res as ServerResponse).writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
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
 * The fallback for requests Connect does not route: /healthz (process up), /readyz (database
 * reachable), /metrics (Prometheus), GET /v1/videos/<id>/thumbnail.jpg (run as GetVideo: bearer
 * auth, role and tenant checked; refusals answered in plain text), then `extra`, else 404.
 */
export function createHttpFallback(deps: HttpRoutesDeps): (req: AnyRequest, res: AnyResponse) => void {
  const thumbnail = /^\/v1\/videos\/([^/]+)\/thumbnail\.jpg$/;
  const builtIn: HttpRoute = async (req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    if (path === "/healthz") {
      send(res, 200, "ok\n");
      return true;
    }
    if (path === "/readyz") {
      const ready = await deps.readiness.check();
      send(res, ready ? 200 : 503, ready ? "ready\n" : "not ready: database unreachable or draining\n");
      return true;
    }
    if (path === "/metrics") {
      send(res, 200, await deps.metrics.registry.metrics(), deps.metrics.registry.contentType);
      return true;
    }
    const match = thumbnail.exec(path);
    if (match) {
      const id = match[1] ?? "";
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
        send(res, refusal.status, refusal.body);
        return true;
      }
      const stream = await deps.blobs.open(thumbnailSha256);
      (res as ServerResponse).writeHead(200, {
        "content-type": "image/jpeg",
        "cache-control": "private, max-age=86400",
      });
      await pipeline(stream, res as ServerResponse);
      return true;
    }
    return false;
  };
  const routes = [builtIn, ...(deps.extra ?? [])];
  return (req, res) => {
    void (async () => {
      try {
        for (const route of routes) if (await route(req, res)) return;
        send(res, 404, "not found\n");
      } catch (error) {
        deps.logger.error({ err: error, url: req.url }, "http route failed");
        if (!res.headersSent) send(res, 500, "internal error\n");
        else res.destroy();
      }
    })();
  };
}
