/**
 * Uploads one file over gRPC (h2c) and prints `{"seconds", "sizeBytes", "videoId", "cpuMs"}`:
 * the ingest benchmark's client, run as its own process so client and server do not share one
 * event loop, as they would not in production. `cpuMs` is this process's CPU time during the
 * upload. Usage: node upload-client.ts <http2 url> <token> <file> [chunk bytes, default 1 MiB]
 */
import { open, stat } from "node:fs/promises";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerToken } from "../../src/platform/auth/bearer.ts";

const [url = "", token = "", path = "", chunkArg = ""] = process.argv.slice(2);
const chunkBytes = Number(chunkArg || 1024 * 1024);
const size = (await stat(path)).size;
const content = createClient(
  ContentService,
  createGrpcTransport({
    baseUrl: url,
    interceptors: [bearerToken(token)],
  }),
);

async function* messages() {
  yield { part: { case: "metadata" as const, value: { fileName: "big.mp4", sizeBytes: BigInt(size) } } };
  const file = await open(path, "r");
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await file.read(chunk, 0, chunk.length);
      if (bytesRead === 0) break;
      yield { part: { case: "chunk" as const, value: chunk.subarray(0, bytesRead) } };
    }
  } finally {
    await file.close();
  }
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
const { video } = await content.uploadVideo(messages());
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
if (Number(video?.sizeBytes) !== size) throw new Error("the server did not store the whole file");
process.stdout.write(
  `${JSON.stringify({ seconds, sizeBytes: size, videoId: video?.id, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`,
);
