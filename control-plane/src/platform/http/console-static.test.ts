import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConsoleStaticRoute } from "./console-static.ts";

/** A raw GET, so paths like `/../x` reach the server unnormalised (fetch would resolve them). */
function get(
  port: number,
  path: string,
  method = "GET",
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function serve(distDir: string): Promise<{ server: http.Server; port: number }> {
  const route = createConsoleStaticRoute(distDir);
  const server = http.createServer((req, res) => {
    void Promise.resolve(route(req, res)).then((handled) => {
      if (!handled) res.writeHead(404).end("not found");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe("console static files", () => {
  let root: string;
  let dist: string;
  let port: number;
  let server: http.Server;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "avtech-console-static-"));
    dist = join(root, "dist");
    await mkdir(join(dist, "console-assets"), { recursive: true });
    await writeFile(join(dist, "index.html"), "<!doctype html><title>console</title>");
    await writeFile(join(dist, "console-assets", "index-abc123.js"), "console.log(1)");
    await writeFile(join(dist, "console-assets", "index-abc123.css"), "body{}");
    await writeFile(join(root, "secret.txt"), "do not serve");
    ({ server, port } = await serve(dist));
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(root, { recursive: true, force: true });
  });

  it("serves index.html at / without long caching", async () => {
    for (const path of ["/", "/index.html", "/?x=1"]) {
      const res = await get(port, path);
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.headers["cache-control"]).toBe("no-cache");
      expect(res.body).toContain("<title>console</title>");
    }
  });

  it("serves hashed assets as immutable with their content types", async () => {
    const js = await get(port, "/console-assets/index-abc123.js");
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    const css = await get(port, "/console-assets/index-abc123.css");
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    const head = await get(port, "/console-assets/index-abc123.js", "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe("14");
    expect(head.body).toBe("");
  });

  it("never leaves dist, however the path is written", async () => {
    for (const path of [
      "/../secret.txt",
      "/console-assets/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/console-assets/%2e%2e%2f%2e%2e%2fsecret.txt",
      "/..%5csecret.txt",
      "/index.html%00.js",
      "/%E0%A4%A",
    ]) {
      const res = await get(port, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain("do not serve");
    }
  });

  it("answers 404 for unknown files and folders, and ignores other methods", async () => {
    expect((await get(port, "/console-assets/missing.js")).status).toBe(404);
    expect((await get(port, "/console-assets")).status).toBe(404);
    expect((await get(port, "/", "POST")).status).toBe(404);
  });

  it("explains how to build the console when dist is missing", async () => {
    const missing = await serve(join(root, "no-dist"));
    try {
      const res = await get(missing.port, "/");
      expect(res.status).toBe(503);
      expect(res.body).toContain("make build");
      expect((await get(missing.port, "/console-assets/index-abc123.js")).status).toBe(404);
    } finally {
      await new Promise((resolve) => missing.server.close(resolve));
    }
  });
});
