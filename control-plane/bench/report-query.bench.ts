import {
  Dimension,
  Granularity,
  type PlayReportQuery,
  PlayReportQuerySchema,
  ReportService,
  ReportWindowSchema,
  UptimeReportQuerySchema,
} from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import pg from "pg";
import { type Metric, reportMetrics } from "../../bench/metric.ts";
import { type Partition, PgReportStore, partitionFor } from "../src/fleet/report/index.ts";
import { bearerToken } from "../src/platform/auth/bearer.ts";
import { startAssembledBench } from "./lib/assembled-bench.ts";
import { quantile } from "./lib/bench-app.ts";
import { postgresCpuSeconds } from "./lib/proc-cpu.ts";

const screens = Number(process.env.AVTECH_BENCH_SCREENS ?? 10_000);
const days = Number(process.env.AVTECH_BENCH_DAYS ?? 30);
const clipsPerPlaylist = Number(process.env.AVTECH_BENCH_CLIPS ?? 10);
const groups = Number(process.env.AVTECH_BENCH_GROUPS ?? 50);
const detailScreens = Math.min(screens, Number(process.env.AVTECH_BENCH_DETAIL_SCREENS ?? 1000));
const runs = Number(process.env.AVTECH_BENCH_RUNS ?? 30);
const zone = "Europe/Madrid";
const playlists = 10;

const bench = await startAssembledBench({ name: "avtech-report-bench-", screens });
const { pgDataDir, databaseUrl, controlPlane, addresses, admin, tenant } = bench;
const { secret: viewerToken } = await admin.createApiToken({ tenant: "bench", name: "bench", role: "viewer" });
await controlPlane.fleet.stores.maintainPartitions();

const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
const end = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000);
const start = new Date(end.getTime() - days * 86_400_000);
const seedStarted = performance.now();
console.log(`seeding ${screens} screens in ${groups} groups, ${playlists} playlists of ${clipsPerPlaylist} clips`);
await db.query("SET synchronous_commit = off");
await db.query(
  `INSERT INTO groups (id, tenant_id, name, created_at)
   SELECT gen_random_uuid(), $1, 'group ' || g, now() FROM generate_series(0, $2 - 1) g`,
  [tenant.id, groups],
);
await db.query(
  `INSERT INTO screens (id, tenant_id, name, hardware_id, group_id, timezone, settings, created_at)
   SELECT gen_random_uuid(), $1, 'screen ' || n, 'hw-' || n, g.id, $3, '{}', $4
     FROM generate_series(0, $2 - 1) n
     JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS k FROM groups WHERE tenant_id = $1) g ON g.k = n % ${groups}`,
  [tenant.id, screens, zone, start],
);
await db.query(
  `INSERT INTO playlists (id, tenant_id, name, created_at, updated_at)
   SELECT gen_random_uuid(), $1, 'playlist ' || p, now(), now() FROM generate_series(0, ${playlists - 1}) p`,
  [tenant.id],
);
// bench_clips: (playlist, video) pairs; bench_plan: which playlist each group plays (group k plays playlist k % 10).
await db.query(
  `CREATE TABLE bench_clips AS
   SELECT p.id AS playlist_id, gen_random_uuid() AS video_id, p.k, c
     FROM (SELECT id, row_number() OVER (ORDER BY name) - 1 AS k FROM playlists WHERE tenant_id = $1) p,
          generate_series(0, ${clipsPerPlaylist - 1}) c`,
  [tenant.id],
);
await db.query(
  `INSERT INTO videos (id, tenant_id, sha256, size_bytes, duration_ms, codec, width, height, name, original_name,
                       content_type, created_by, created_at)
   SELECT video_id, $1, md5(video_id::text) || md5(video_id::text), 1000000, 10000, 'h264', 1920, 1080,
          'clip ' || k || '.' || c, 'clip.mp4', 'video/mp4', 'bench', now()
     FROM bench_clips`,
  [tenant.id],
);
await db.query(
  `CREATE TABLE bench_plan AS
   SELECT s.id AS screen_id, s.group_id, c.playlist_id, c.video_id
     FROM screens s
     JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS k FROM groups WHERE tenant_id = $1) g ON g.id = s.group_id
     JOIN bench_clips c ON c.k = g.k % ${playlists}
    WHERE s.tenant_id = $1`,
  [tenant.id],
);
const playsPerHour = 3600 / 10 / clipsPerPlaylist;
const hourlyTable = { name: "play_hourly", unit: "month" } as const;
const hours = `generate_series($2::timestamptz, $3::timestamptz - interval '1 hour', interval '1 hour')`;
// Seeding only: no full-page images and few checkpoints (this database is thrown away), reset before measuring.
await db.query("ALTER SYSTEM SET full_page_writes = off");
await db.query("SELECT pg_reload_conf()");
await db.query("SET maintenance_work_mem = '512MB'");

// play_hourly (screens × clips × hours: the big one) is bulk-loaded per monthly partition: the empty
// partition is replaced by a plain table, filled, given its primary key in one index build, and attached
// (the CHECK lets ATTACH skip its scan; the foreign key to screens is validated once, set-based).
const months: Partition[] = [];
for (let at = start; at < end; at = partitionFor(hourlyTable, at).end) months.push(partitionFor(hourlyTable, at));
for (const month of months) {
  const monthStarted = performance.now();
  const [lower, upper] = [month.start.toISOString(), month.end.toISOString()];
  await db.query(`ALTER TABLE play_hourly DETACH PARTITION ${month.name}`);
  await db.query(`DROP TABLE ${month.name}`);
  await db.query(`CREATE TABLE ${month.name} (LIKE play_hourly INCLUDING DEFAULTS)`);
  await db.query(
    `INSERT INTO ${month.name} (hour, screen_id, video_id, playlist_id, tenant_id, group_id, played_ms, plays, completed, time_zone)
     SELECT h, p.screen_id, p.video_id, p.playlist_id, $1, p.group_id, ${playsPerHour * 10_000}, ${playsPerHour},
            ${playsPerHour}, $4
       FROM bench_plan p, ${hours} h
      WHERE p.screen_id IN (SELECT id FROM screens WHERE tenant_id = $1 ORDER BY id LIMIT ${detailScreens})
      ORDER BY p.screen_id, h, p.video_id, p.playlist_id`,
    [
      tenant.id,
      new Date(Math.max(month.start.getTime(), start.getTime())),
      new Date(Math.min(month.end.getTime(), end.getTime())),
      zone,
    ],
  );
  await db.query(`ALTER TABLE ${month.name} ADD PRIMARY KEY (screen_id, hour, video_id, playlist_id)`);
  await db.query(
    `ALTER TABLE ${month.name} ADD CONSTRAINT bench_range CHECK (hour >= '${lower}' AND hour < '${upper}')`,
  );
  await db.query(`ALTER TABLE play_hourly ATTACH PARTITION ${month.name} FOR VALUES FROM ('${lower}') TO ('${upper}')`);
  await db.query(`ALTER TABLE ${month.name} DROP CONSTRAINT bench_range`);
  console.log(`  ${month.name} loaded in ${((performance.now() - monthStarted) / 1000).toFixed(1)} s`);
}
// The per-screen tables (a tenth of its rows): screens in ascending id, a thousand at a time, in
// primary-key order, so every insert appends at the right end of its partition's index.
const screenIds = (
  await db.query<{ id: string }>("SELECT id FROM screens WHERE tenant_id = $1 ORDER BY id", [tenant.id])
).rows.map((row) => row.id);
for (let first = 0; first < screenIds.length; first += 1000) {
  const chunk = screenIds.slice(first, first + 1000);
  await db.query(
    `INSERT INTO play_screen_hourly (hour, screen_id, tenant_id, group_id, played_ms, plays, completed, time_zone)
     SELECT h, s.id, $1, s.group_id, ${clipsPerPlaylist * playsPerHour * 10_000}, ${clipsPerPlaylist * playsPerHour},
            ${clipsPerPlaylist * playsPerHour}, $4
       FROM screens s, ${hours} h
      WHERE s.id = ANY($5::uuid[])
      ORDER BY s.id, h`,
    [tenant.id, start, end, zone, chunk],
  );
  await db.query(
    `INSERT INTO screen_uptime_hourly (hour, screen_id, tenant_id, playing_ms, display_off_ms, idle_ms)
     SELECT h, s.id, $1, 3300000, 0, 300000
       FROM screens s, ${hours} h
      WHERE s.id = ANY($4::uuid[])
      ORDER BY s.id, h`,
    [tenant.id, start, end, chunk],
  );
}
console.log(`  per-screen rollups and uptime seeded`);
await db.query(
  `INSERT INTO play_group_clip_hourly (hour, tenant_id, group_id, video_id, playlist_id, played_ms, plays, completed, time_zone)
   SELECT h, $1, group_id, video_id, playlist_id, count(*) * ${playsPerHour * 10_000}, count(*) * ${playsPerHour},
          count(*) * ${playsPerHour}, $4
     FROM ${hours} h, bench_plan
    GROUP BY h, group_id, video_id, playlist_id
    ORDER BY h, group_id, video_id, playlist_id`,
  [tenant.id, start, end, zone],
);
await db.query(
  `INSERT INTO play_group_hourly (hour, tenant_id, group_id, played_ms, plays, completed, time_zone)
   SELECT h, $1, group_id, count(*) * ${playsPerHour * 10_000}, count(*) * ${playsPerHour}, count(*) * ${playsPerHour}, $4
     FROM ${hours} h, bench_plan
    GROUP BY h, group_id
    ORDER BY h, group_id`,
  [tenant.id, start, end, zone],
);
await db.query(
  `INSERT INTO play_tenant_hourly (hour, tenant_id, video_id, playlist_id, played_ms, plays, completed, time_zone)
   SELECT h, $1, video_id, playlist_id, count(*) * ${playsPerHour * 10_000}, count(*) * ${playsPerHour},
          count(*) * ${playsPerHour}, $4
     FROM ${hours} h, bench_plan
    GROUP BY h, video_id, playlist_id
    ORDER BY h, video_id, playlist_id`,
  [tenant.id, start, end, zone],
);
await db.query("ALTER SYSTEM RESET full_page_writes");
await db.query("SELECT pg_reload_conf()");
await db.query("CHECKPOINT");
await db.query("ANALYZE");
const [{ rows: detailRows }] = [await db.query<{ n: string }>("SELECT count(*) AS n FROM play_hourly")];
const seedSeconds = (performance.now() - seedStarted) / 1000;
console.log(`seeded ${detailRows[0]?.n} play_hourly rows in ${seedSeconds.toFixed(0)} s`);
const someGroup = (await db.query<{ id: string }>("SELECT group_id AS id FROM bench_plan LIMIT 1")).rows[0]?.id ?? "";
const someScreen =
  (await db.query<{ id: string }>("SELECT screen_id AS id FROM play_hourly LIMIT 1")).rows[0]?.id ?? "";
const someVideo = (await db.query<{ id: string }>("SELECT video_id AS id FROM bench_clips LIMIT 1")).rows[0]?.id ?? "";

const sessions = new Http2SessionManager(addresses.http2Url);
const reports = createClient(
  ReportService,
  createGrpcTransport({
    baseUrl: addresses.http2Url,
    sessionManager: sessions,
    interceptors: [bearerToken(viewerToken)],
  }),
);
const window = { start: timestampFromDate(start), end: timestampFromDate(end), timeZone: zone };
/** A query of `fields` over the seeded days, daily unless `fields` says otherwise. */
const playQuery = (fields: MessageInitShape<typeof PlayReportQuerySchema>): PlayReportQuery => {
  const query = create(PlayReportQuerySchema, fields);
  query.window = create(ReportWindowSchema, window);
  if (!("granularity" in fields)) query.granularity = Granularity.DAY;
  return query;
};

/** Runs `call` once to warm up, then `runs` times; returns the latencies in ms and the last result's size. */
async function measure(
  name: string,
  call: () => Promise<number>,
): Promise<{ name: string; ms: number[]; cpuMs: number; rows: number }> {
  let rows = await call();
  const ms: number[] = [];
  const serverBefore = process.cpuUsage();
  const postgresBefore = await postgresCpuSeconds(pgDataDir);
  for (let n = 0; n < runs; n++) {
    const began = performance.now();
    rows = await call();
    ms.push(performance.now() - began);
  }
  const server = process.cpuUsage(serverBefore);
  // CPU the server and PostgreSQL spent per query: what the latency would be on idle cores.
  const cpuMs =
    ((server.user + server.system) / 1000 + ((await postgresCpuSeconds(pgDataDir)) - postgresBefore) * 1000) / runs;
  console.log(
    `${name}: ${rows} rows, p50 ${quantile(ms, 0.5).toFixed(1)} ms, p99 ${quantile(ms, 0.99).toFixed(1)} ms, ` +
      `CPU ${cpuMs.toFixed(1)} ms per query`,
  );
  return { name, ms, cpuMs, rows };
}
const page = async (query: PlayReportQuery) => (await reports.getPlayReport({ query, pageSize: 1000 })).rows.length;
const results = [
  await measure("per asset, daily", () => page(playQuery({ dimension: Dimension.ASSET }))),
  await measure("per playlist, daily", () => page(playQuery({ dimension: Dimension.PLAYLIST }))),
  await measure("per group, daily", () => page(playQuery({ dimension: Dimension.GROUP }))),
  await measure("one asset per group, daily", () =>
    page(playQuery({ dimension: Dimension.GROUP, videoIds: [someVideo] })),
  ),
  await measure("per screen, daily, first page of 1000 rows", () => page(playQuery({ dimension: Dimension.SCREEN }))),
  await measure("one screen per asset, hourly", () =>
    page(
      playQuery({
        dimension: Dimension.ASSET,
        granularity: Granularity.HOUR,
        screenIds: [someScreen],
      }),
    ),
  ),
  await measure("per screen of one group (200 screens), daily, first page", () =>
    page(playQuery({ dimension: Dimension.SCREEN, groupIds: [someGroup] })),
  ),
  await measure(
    "uptime, first page of 1000 rows",
    async () =>
      (await reports.getUptimeReport({ query: create(UptimeReportQuerySchema, { window }), pageSize: 1000 })).rows
        .length,
  ),
];
if (process.env.AVTECH_BENCH_EXPLAIN) {
  // The plans of the report statements (EXPLAIN ANALYZE, BUFFERS), for looking into a slow query.
  const explainer = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const store = new PgReportStore({
    query: async (text: string, values: unknown[]) => {
      if (/^\s*WITH/.test(text)) {
        const plan = await explainer.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values);
        console.log(plan.rows.map((row) => row["QUERY PLAN"].slice(0, 240)).join("\n"));
      }
      return explainer.query(text, values);
    },
  } as unknown as pg.Pool);
  const base = {
    tenantId: tenant.id,
    granularity: "day" as const,
    screenIds: [],
    groupIds: [],
    videoIds: [],
    playlistIds: [],
  };
  const span = { start, end, zone: { kind: "fixed" as const, name: zone } };
  for (const dimension of ["asset", "group", "screen"] as const) {
    console.log(`-- plan: per ${dimension}, daily`);
    await store.playPage({ ...base, window: span, dimension }, { size: 1000, after: undefined });
  }
  console.log("-- plan: uptime");
  await store.uptimePage(
    { tenantId: tenant.id, window: span, screenIds: [], groupIds: [] },
    { size: 1000, after: undefined },
    new Date(),
  );
  await explainer.end();
}
const exportStarted = performance.now();
let exportBytes = 0;
for await (const part of reports.exportPlayReport({ query: playQuery({ dimension: Dimension.SCREEN }) })) {
  exportBytes += part.csv.length;
}
const exportSeconds = (performance.now() - exportStarted) / 1000;
console.log(`CSV export per screen, daily: ${(exportBytes / 1e6).toFixed(1)} MB in ${exportSeconds.toFixed(1)} s`);

sessions.abort();
await db.end();
await bench.close();

const note =
  `${screens} screens, ${days} days, ${clipsPerPlaylist} clips per playlist, per-clip rollup for ${detailScreens} ` +
  `screens (${detailRows[0]?.n} play_hourly rows), ${runs} runs, ${zone}`;
const slug = (name: string) => name.replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "");
const metrics: Metric[] = results.flatMap(({ name, ms, cpuMs, rows }) => [
  {
    name: `control-plane.reports.${slug(name)}.p99`,
    value: quantile(ms, 0.99),
    unit: "ms",
    goal: `<= 300 ms (${rows} rows; ${note})`,
  },
  {
    name: `control-plane.reports.${slug(name)}.p50`,
    value: quantile(ms, 0.5),
    unit: "ms",
    goal: `(${rows} rows; ${note})`,
  },
  {
    name: `control-plane.reports.${slug(name)}.cpu`,
    value: cpuMs,
    unit: "ms",
    goal: `server + PostgreSQL CPU per query, robust to a busy machine (${rows} rows; ${note})`,
  },
]);
metrics.push(
  {
    name: "control-plane.reports.csv_export_per_screen_daily",
    value: exportSeconds,
    unit: "s",
    goal: `whole tenant, ${(exportBytes / 1e6).toFixed(1)} MB of CSV over the RPC (${note})`,
  },
  { name: "control-plane.reports.seed", value: seedSeconds, unit: "s", goal: `set-based seeding (${note})` },
);
reportMetrics(metrics);
process.exit(0);
