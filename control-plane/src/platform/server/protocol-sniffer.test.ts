import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProtocolSniffer } from "./protocol-sniffer.ts";

describe("the plaintext port", () => {
  const handler = (
    request: http.IncomingMessage | http2.Http2ServerRequest,
    response: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    response.end(`HTTP/${request.httpVersion} ${request.url}`);
  };
  const front = createProtocolSniffer(http2.createServer(handler), http.createServer(handler));
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => front.close(() => resolve())));

  it("serves HTTP/1.1 requests (asset downloads, gRPC-Web)", async () => {
    const response = await fetch(`${base}/assets/x`, { method: "POST", body: "PRI-looking body" });
    expect(await response.text()).toBe("HTTP/1.1 /assets/x");
  });

  it("serves HTTP/2 with prior knowledge (gRPC) on the same port", async () => {
    const session = http2.connect(base);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ":path": "/grpc" });
        let text = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          text += chunk;
        });
        stream.on("end", () => resolve(text));
        stream.on("error", reject);
        stream.end();
      });
      expect(body).toBe("HTTP/2.0 /grpc");
    } finally {
      session.close();
    }
  });
});
