import { createHash } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A file the test server serves at `/assets/<name>`. */
export interface ServedFile {
  body: Uint8Array;
  /** Close the socket after this many body bytes of the NEXT request only (simulates a dropped link). */
  dropAfterBytes?: number;
  /** Answer 404. */
  missing?: boolean;
  /** Answer this status (e.g. 403, an expired pre-signed URL) to the NEXT request only. */
  failNextWith?: number;
}

/** A request the server saw. */
export interface SeenRequest {
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

/** A local HTTP server with Range support and fault switches, on port 0. */
export interface AssetServer {
  readonly baseUrl: string;
  readonly files: Map<string, ServedFile>;
  readonly requests: SeenRequest[];
  /** Delay between 64 KiB chunks of every response (slows downloads so faults land mid-transfer); default 0. */
  chunkDelayMs: number;
  /** Serves `body` under its sha256 and returns the sha. */
  add(body: Uint8Array): string;
  urlOf(name: string): URL;
  /** Answers GET `path` with `status` and `Location: location` (e.g. /assets → a pre-signed store URL). */
  redirect(path: string, location: string, status?: number): void;
  close(): Promise<void>;
}

/** sha256 hex of bytes. */
export function sha256Of(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}

/** Deterministic pseudo-random bytes (so files differ and compress badly). */
export function bytesOf(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Starts the server. */
export async function startAssetServer(): Promise<AssetServer> {
  const files = new Map<string, ServedFile>();
  const requests: SeenRequest[] = [];
  const redirects = new Map<string, { location: string; status: number }>();
  let baseUrl = "";
  const api: AssetServer = {
    get baseUrl() {
      return baseUrl;
    },
    files,
    requests,
    chunkDelayMs: 0,
    add(body) {
      const sha = sha256Of(body);
      files.set(sha, { body });
      return sha;
    },
    urlOf: (name) => new URL(`/assets/${name}`, baseUrl),
    redirect(path, location, status = 307) {
      redirects.set(path, { location, status });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "/";
    requests.push({ path, range: req.headers.range, authorization: req.headers.authorization });
    const redirect = redirects.get(path);
    if (redirect) {
      res.writeHead(redirect.status, { location: redirect.location }).end();
      return;
    }
    // A query (a pre-signed URL's signature) does not name another file.
    const file = files.get((path.split("?")[0] ?? "").replace(/^\/assets\//, ""));
    if (!file || file.missing) {
      res.writeHead(404).end("not found");
      return;
    }
    if (file.failNextWith !== undefined) {
      res.writeHead(file.failNextWith).end("refused");
      file.failNextWith = undefined;
      return;
    }
    const size = file.body.length;
    let start = 0;
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (match) {
      start = Number(match[1]);
      if (start >= size) {
        res.writeHead(416, { "content-range": `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, {
        "content-length": size - start,
        "content-range": `bytes ${start}-${size - 1}/${size}`,
        "accept-ranges": "bytes",
      });
    } else {
      res.writeHead(200, { "content-length": size, "accept-ranges": "bytes" });
    }
    const drop = file.dropAfterBytes;
    if (drop !== undefined) {
      file.dropAfterBytes = undefined;
      res.write(file.body.subarray(start, start + drop), () => {
        // Let the bytes reach the client before the connection dies, like a link that drops.
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    if (api.chunkDelayMs > 0) {
      void writeSlowly(res, file.body.subarray(start), api.chunkDelayMs);
      return;
    }
    res.end(file.body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;
  return api;
}

async function writeSlowly(res: ServerResponse, body: Uint8Array, delayMs: number): Promise<void> {
  for (let offset = 0; offset < body.length && !res.destroyed; offset += 65_536) {
    res.write(body.subarray(offset, offset + 65_536));
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  res.end();
}
