/**
 * Ingest throughput: one ~100 MiB H.264 upload over loopback gRPC (h2c, 1 MiB chunks, from a
 * separate client process) through
 * the whole pipeline (hash while streaming, fsync, ffprobe demux of the whole file, thumbnail,
 * rename, row), compared with `sha256sum` of the same file in the same run. The clip is lossless
 * H.264 of random noise (72 frames of 1280x720 at 25 fps = 2.88 s), so it passes the default
 * limits (h264, ≤1920x1080, 1–20 s, ≤100 MiB) unchanged.
 */
import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { reportMetrics } from "../../bench/metric.ts";
import { startBenchApp } from "./lib/bench-app.ts";

const run = promisify(execFile);
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
  console.log(`clip: ${(size / 2 ** 20).toFixed(1)} MiB`);

  // Warm the page cache so both sides read from memory.
  await run("sha256sum", [clip]);
  const shaStart = performance.now();
  await run("sha256sum", [clip]);
  const shaSeconds = (performance.now() - shaStart) / 1000;

  const { stdout } = await run(process.execPath, [
    join(import.meta.dirname, "lib", "upload-client.ts"),
    app.addresses.http2Url,
    app.editorToken,
    clip,
  ]);
  const { seconds: ingestSeconds, sizeBytes } = JSON.parse(stdout) as { seconds: number; sizeBytes: number };
  if (sizeBytes !== size) throw new Error("upload did not store the whole file");

  const mib = size / 2 ** 20;
  const ingest = mib / ingestSeconds;
  const sha = mib / shaSeconds;
  console.log(`ingest ${ingestSeconds.toFixed(2)} s, sha256sum ${shaSeconds.toFixed(2)} s`);
  reportMetrics([
    {
      name: "control-plane.ingest.throughput",
      value: ingest,
      unit: "MiB/s",
      reference: "sha256sum of the same file",
      reference_value: sha,
      ratio: ingest / sha,
      goal: ">= 0.5 of sha256sum",
    },
  ]);
} finally {
  await app.close();
}
