import { readFile, stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import type { HttpRoute } from "../server/http-routes.ts";

/** Where the console's hashed files live inside dist; kept apart from the screens' `/assets/<sha256>`. */
export const consoleAssetsDir = "console-assets";

/** The built console next to the sources, as `npm run build:console` leaves it. */
export const defaultConsoleDist = resolve(import.meta.dirname, "..", "..", "..", "console", "dist");

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

const missingPage = `<!doctype html><meta charset="utf-8"><title>AVTech console not built</title>
<h1>The console has not been built</h1>
<p>This control plane serves the fleet console from <code>control-plane/console/dist</code>, which is missing.
Run <code>make build</code> (or <code>npm run -w @avtech/control-plane build:console</code>) and reload.</p>
<p>The API itself is up: gRPC, gRPC-Web and Connect answer on this port.</p>\n`;

function send(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  headers: Record<string, string>,
  head = false,
): void {
  res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)) });
  res.end(head ? undefined : body);
}

/**
 * Serves the built console: `/` and `/index.html` as index.html with `Cache-Control: no-cache`
 * (so a deploy is picked up at once), files under `/console-assets/` (Vite's content-hashed
 * names) as immutable for a year, and any other file of dist without long caching. Only GET and
 * HEAD; paths that leave dist after decoding (`..`, encoded slashes, NUL) and unknown files
 * answer 404. When dist is missing, `/` explains how to build it (503).
 */
export function createConsoleStaticRoute(distDir: string = defaultConsoleDist): HttpRoute {
  const root = resolve(distDir);
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const out = res as ServerResponse;
    const rawPath = new URL(req.url ?? "/", "http://x").pathname;
    const isIndex = rawPath === "/" || rawPath === "/index.html";
    let relative: string;
    try {
      relative = isIndex ? "index.html" : decodeURIComponent(rawPath).slice(1);
    } catch {
      return false;
    }
    if (relative.includes("\0") || relative.includes("\\")) return false;
    const file = resolve(join(root, relative));
    if (!file.startsWith(root + sep)) return false;
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      if (!isIndex) return false;
      send(out, 503, missingPage, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      return true;
    }
    const body = await readFile(file);
    const immutable = relative.startsWith(`${consoleAssetsDir}/`);
    const headers = {
      "content-type": contentTypes[extname(file).toLowerCase()] ?? "application/octet-stream",
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
    };
    send(out, 200, body, headers, req.method === "HEAD");
    return true;
  };
}
