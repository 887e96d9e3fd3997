/**
 * ListVideos latency with 10,000 videos in the tenant: first pages (page_size 100, with the total
 * count and playlist usage) over Connect/HTTP/1.1 on loopback. Rows are seeded in SQL.
 */
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { reportMetrics } from "../../bench/metric.ts";
import { quantile, startBenchApp } from "./lib/bench-app.ts";

const rows = 10_000;
const calls = 300;
const app = await startBenchApp();
try {
  await app.orm.em.getConnection().execute(
    `insert into videos (id, tenant_id, sha256, size_bytes, duration_ms, codec, width, height, name, original_name,
       content_type, thumbnail_sha256, created_by, created_at)
     select gen_random_uuid(), ?, encode(sha256(i::text::bytea), 'hex'), 1000000 + i, 10000, 'h264', 1920, 1080,
       'clip ' || i, 'clip-' || i || '.mp4', 'video/mp4', null, 'bench', now() - (i || ' seconds')::interval
     from generate_series(1, ?) as i`,
    [app.tenantId, rows],
  );
  await app.orm.em.getConnection().execute("analyze videos");
  const content = app.client(ContentService, "connect");
  for (let i = 0; i < 20; i++) await content.listVideos({ pageSize: 100 });
  const latencies: number[] = [];
  let token = "";
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    // Walk pages so the keyset path is measured too, restarting at the end.
    const page = await content.listVideos({ pageSize: 100, pageToken: token });
    latencies.push(performance.now() - started);
    if (page.totalCount !== rows || page.videos.length === 0) throw new Error("unexpected page");
    token = page.nextPageToken;
  }
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  console.log(`ListVideos over ${rows} rows, ${calls} calls: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
  reportMetrics([
    { name: "control-plane.list-videos.p50", value: p50, unit: "ms", goal: "page of 100 of 10,000 rows" },
    { name: "control-plane.list-videos.p99", value: p99, unit: "ms", goal: "page of 100 of 10,000 rows" },
  ]);
} finally {
  await app.close();
}
