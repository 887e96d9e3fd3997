import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "pino";
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
  logger: Logger;
  /** More routes (the console's video routes, asset downloads, console files), tried in order after the built-in ones. */
  extra?: readonly HttpRoute[];
}

function send(res: AnyResponse, status: number, body: string, type = "text/plain; charset=utf-8"): void {
  (res as ServerResponse).writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

/**
 * The fallback for requests Connect does not route: /healthz (process up), /readyz (database
 * reachable), /metrics (Prometheus), then `extra`, else 404; a route that throws is logged and
 * answered 500 (or its stream destroyed once headers went out).
 */
export function createHttpFallback(deps: HttpRoutesDeps): (req: AnyRequest, res: AnyResponse) => void {
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
