/**
 * Ingest throughput: a ~100 MiB H.264 clip through the whole pipeline (hash while streaming,
 * fsync, ffprobe demux of the whole file, thumbnail, rename, row), compared with `sha256sum` of
 * the same file, over loopback by two real uploaders in their own processes:
 * - gRPC `UploadVideo` (h2c, 1 MiB chunks) from a connect-node client (lib/upload-client.ts): the
 *   metric the goal is about;
 * - `POST /v1/videos` (HTTP/1.1, the console's upload) from curl, shown beside it because it
 *   separates the server's pipeline from the cost of gRPC framing in Node on both ends.
 * The clip is lossless H.264 of random noise (72 frames of 1280x720 at 25 fps = 2.88 s), so it
 * passes the default limits (h264, ≤1920x1080, 1–20 s, ≤100 MiB) unchanged.
 *
 * One untimed upload first (a serving control plane is warm: JIT, database pool, HTTP/2 session
 * code), then INGEST_ROUNDS (default 3) rounds of sha256sum and both uploads side by side, each
 * video deleted again so the next upload is not deduplicated. Each metric is its round with the
 * median ratio; every round is printed, since the machine may be shared and one round can be an
 * outlier.
 */
import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { type Metric, reportMetrics } from "../../bench/metric.ts";
import { quantile, startBenchApp } from "./lib/bench-app.ts";

const run = promisify(execFile);
const rounds = Number(process.env.INGEST_ROUNDS ?? 3);
const app = await startBenchApp();
try {
  const clip = join(app.workDir, "big.mp4");
  console.log("generating a ~100 MiB lossless H.264 clip with ffmpeg…");
  await run("ffmpeg", [
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    "nullsrc=s=1280x720:r=25,geq=random(1)*255:128:128",
    "-frames:v",
    "72",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-qp",
    "0",
    "-pix_fmt",
    "yuv420p",
    clip,
  ]);
  const size = (await stat(clip)).size;
  const mib = size / 2 ** 20;
  console.log(`clip: ${mib.toFixed(1)} MiB`);
  const content = app.client(ContentService, "grpc");

  /** Runs one upload command, checks the stored size and deletes the video again; seconds of the upload. */
  const timed = async (upload: () => Promise<{ videoId: string; sizeBytes: number }>): Promise<number> => {
    const started = performance.now();
    const { videoId, sizeBytes } = await upload();
    const seconds = (performance.now() - started) / 1000;
    if (sizeBytes !== size) throw new Error("upload did not store the whole file");
    await content.deleteVideo({ id: videoId });
    return seconds;
  };
  /** UploadVideo by the client process (its own clock starts after its imports). */
  const grpcUpload = async (): Promise<number> => {
    let seconds = 0;
    await timed(async () => {
      const { stdout } = await run(process.execPath, [
        join(import.meta.dirname, "lib", "upload-client.ts"),
        app.addresses.http2Url,
        app.editorToken,
        clip,
      ]);
      const result = JSON.parse(stdout) as { seconds: number; sizeBytes: number; videoId: string };
      seconds = result.seconds;
      return result;
    });
    return seconds;
  };
  /** POST /v1/videos by curl, streaming the file (no `Expect: 100-continue` round trip). */
  const httpUpload = (): Promise<number> =>
    timed(async () => {
      const { stdout } = await run("curl", [
        "-sS",
        "--fail-with-body",
        "-X",
        "POST",
        "-T",
        clip,
        "-H",
        `authorization: Bearer ${app.editorToken}`,
        "-H",
        "x-file-name: big.mp4",
        "-H",
        "content-type: application/octet-stream",
        "-H",
        "expect:",
        `${app.addresses.http1Url}/v1/videos`,
      ]);
      const { video } = JSON.parse(stdout) as { video: { id: string; sizeBytes: string } };
      return { videoId: video.id, sizeBytes: Number(video.sizeBytes) };
    });
  /** sha256sum of the clip (from the page cache, like the uploaders read it). */
  const sha256sum = async (): Promise<number> => {
    const started = performance.now();
    await run("sha256sum", [clip]);
    return (performance.now() - started) / 1000;
  };

  await sha256sum();
  await grpcUpload();
  await httpUpload();
  const grpc: { seconds: number; sha: number }[] = [];
  const http: { seconds: number; sha: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    // The reference is timed next to each upload, so a burst of load elsewhere hits both.
    const shaBeforeGrpc = await sha256sum();
    grpc.push({ seconds: await grpcUpload(), sha: shaBeforeGrpc });
    const shaBeforeHttp = await sha256sum();
    http.push({ seconds: await httpUpload(), sha: shaBeforeHttp });
    const line = (r: { seconds: number; sha: number }) =>
      `${r.seconds.toFixed(3)} s vs sha256sum ${r.sha.toFixed(3)} s = ${(r.sha / r.seconds).toFixed(2)}`;
    console.log(
      `round ${round}: gRPC ${line(grpc.at(-1) as (typeof grpc)[number])}; HTTP ${line(http.at(-1) as (typeof http)[number])}`,
    );
  }

  const metric = (name: string, how: string, results: { seconds: number; sha: number }[]): Metric => {
    const ratios = results.map((r) => r.sha / r.seconds);
    const median = results[ratios.indexOf(quantile(ratios, 0.5))] as (typeof results)[number];
    console.log(
      `${how}: ratio best ${Math.max(...ratios).toFixed(2)}, median ${(median.sha / median.seconds).toFixed(2)}`,
    );
    return {
      name,
      value: mib / median.seconds,
      unit: "MiB/s",
      reference: `sha256sum of the same file (same round); ${how}`,
      reference_value: mib / median.sha,
      ratio: median.sha / median.seconds,
      goal: ">= 0.5 of sha256sum",
    };
  };
  reportMetrics([
    metric("control-plane.ingest.throughput", "gRPC UploadVideo, connect-node client", grpc),
    metric("control-plane.ingest.http-throughput", "POST /v1/videos, curl", http),
  ]);
} finally {
  await app.close();
}
