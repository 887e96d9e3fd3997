import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";

/** A response whose body the caller must consume or destroy. */
export interface HttpResponse {
  status: number;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  body: Readable;
}

/** The one HTTP operation the asset cache needs (conventions rule 10: injected, so tests can use a local server). */
export interface HttpGetter {
  get(url: URL, headers: Readonly<Record<string, string>>, signal: AbortSignal): Promise<HttpResponse>;
}

/** Options of {@link createHttpGetter}. */
export interface HttpGetterOptions {
  /** Extra CA certificates (PEM) for a private control plane; default: the system's. */
  ca?: string;
  /** Time without a byte before the request fails; default 30 000 ms. */
  idleTimeoutMs?: number;
}

/**
 * A node:http(s) getter with keep-alive agents. node:http is used rather than fetch because it
 * takes a CA per agent without extra packages and streams with less overhead.
 */
export function createHttpGetter(options: HttpGetterOptions = {}): HttpGetter {
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const httpAgent = new HttpAgent({ keepAlive: true });
  const httpsAgent = new HttpsAgent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) });
  return {
    get(url, headers, signal) {
      return new Promise((resolve, reject) => {
        const https = url.protocol === "https:";
        const req = (https ? httpsRequest : httpRequest)(url, {
          method: "GET",
          headers,
          agent: https ? httpsAgent : httpAgent,
          signal,
          timeout: idleTimeoutMs,
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${url.href}: no data for ${idleTimeoutMs} ms`)));
        req.on("error", reject);
        req.on("response", (res: IncomingMessage) => {
          const flat: Record<string, string | undefined> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            flat[name] = Array.isArray(value) ? value.join(", ") : value;
          }
          resolve({ status: res.statusCode ?? 0, headers: flat, body: res });
        });
        req.end();
      });
    },
  };
}
