import { randomUUID } from "node:crypto";
import { DeviceService, PlayEventSchema, PlayOutcome } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import {
  Dimension,
  Granularity,
  type PlayReportQuery,
  PlayReportQuerySchema,
  type PlayReportRow,
  ReportService,
  ReportWindowSchema,
  type UptimeReportQuery,
  UptimeReportQuerySchema,
} from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, openStream } from "../lib/fleet-device.ts";
import { ManualClock } from "../lib/fleet-server.ts";
import { type RealControlPlane, startRealControlPlane } from "../lib/real-control-plane.ts";

/**
 * ReportService and the CSV routes on the assembled control plane (real auth, real PostgreSQL):
 * screens enroll and send their plays over the device stream; reports are read as a viewer.
 * The server's clock stands at 2026-12-06T12:00Z (then three hours later), so every play here is
 * weeks to months old: each takes the late path (counted, raw row not kept) into the rollups.
 */
const ts = (iso: string) => timestampFromDate(new Date(iso));
const hours = (from: string, count: number) =>
  Array.from({ length: count }, (_, n) => new Date(Date.parse(from) + n * 3_600_000).toISOString());

interface Site {
  tenantId: string;
  fleet: Client<typeof FleetService>;
  groupId: string;
  videoId: string;
  otherVideoId: string;
  playlistId: string;
  /** Screen ids by name. */
  screens: Record<string, string>;
}

describe("ReportService on the assembled control plane", () => {
  let cp: RealControlPlane;
  let reports: Client<typeof ReportService>;
  let viewerToken: string;
  let site: Site;
  let other: Site;
  const clock = new ManualClock(Date.parse("2026-12-06T12:00:00Z"));

  /** Enrolls `names` into a new group of the tenant, sends each screen's plays, waits until all are counted. */
  async function seed(
    tenantId: string,
    adminToken: string,
    plays: Record<string, Array<{ at: string; video: "main" | "other" }>>,
    zones: Record<string, string> = {},
  ): Promise<Site> {
    const fleet = cp.client(FleetService, adminToken);
    const { group } = await fleet.createGroup({ name: `Stores ${randomUUID().slice(0, 8)}` });
    const groupId = group?.id ?? "";
    const grouped = await fleet.createEnrollmentKey({ name: "stores", groupId });
    const loose = await fleet.createEnrollmentKey({ name: "loose" });
    const videoId = randomUUID();
    const otherVideoId = randomUUID();
    const playlistId = randomUUID();
    for (const [id, name] of [
      [videoId, "Summer sale"],
      [otherVideoId, "Winter sale"],
    ]) {
      await cp.query(
        `INSERT INTO videos (id, tenant_id, sha256, size_bytes, duration_ms, codec, width, height, name, original_name,
                             content_type, created_by, created_at)
         VALUES ($1, $2, $3, 1000, 10000, 'h264', 1920, 1080, $4, 'clip.mp4', 'video/mp4', 'test', now())`,
        [id, tenantId, randomUUID().replaceAll("-", "").repeat(2), name],
      );
    }
    await cp.query(
      "INSERT INTO playlists (id, tenant_id, name, created_at, updated_at) VALUES ($1, $2, 'Morning', now(), now())",
      [playlistId, tenantId],
    );
    const device = createClient(DeviceService, createGrpcTransport({ baseUrl: cp.addresses.http2Url }));
    const screens: Record<string, string> = {};
    let expected = 0;
    for (const [index, [name, list]] of Object.entries(plays).entries()) {
      const key = index === 0 ? grouped.enrollmentKey : loose.enrollmentKey;
      const hardwareId = `report-${randomUUID()}`;
      const response = await device.register({ hardwareId, enrollmentKey: key, facts: { hostname: name } });
      if (response.outcome.case !== "enrolled") throw new Error("expected enrollment");
      const { deviceId, deviceToken } = response.outcome.value;
      screens[name] = deviceId;
      const zone = zones[name];
      if (zone) await cp.query("UPDATE screens SET timezone = $2 WHERE id = $1", [deviceId, zone]);
      const stream = openStream(device, deviceToken);
      expect((await stream.next()).message.case).toBe("welcome");
      const events = list.map(({ at, video }) =>
        create(PlayEventSchema, {
          eventId: randomUUID(),
          videoId: video === "main" ? videoId : otherVideoId,
          playlistId,
          startedAt: ts(at),
          endedAt: timestampFromDate(new Date(Date.parse(at) + 10_000)),
          outcome: PlayOutcome.COMPLETED,
        }),
      );
      stream.send({ case: "playEvents", value: { events } });
      expected += events.length;
      await eventually(async () => {
        const [row] = await cp.query<{ plays: number }>(
          "SELECT coalesce(sum(plays), 0)::int AS plays FROM play_group_clip_hourly WHERE tenant_id = $1",
          [tenantId],
        );
        return row?.plays === expected;
      }, 10_000);
      stream.hangUp();
    }
    return { tenantId, fleet, groupId, videoId, otherVideoId, playlistId, screens };
  }

  /** A query of `fields`; by default all of 2026, daily, per asset, in UTC. */
  function playQuery(fields: MessageInitShape<typeof PlayReportQuerySchema>): PlayReportQuery {
    const query = create(PlayReportQuerySchema, fields);
    query.window ??= create(ReportWindowSchema, { start: ts("2026-01-01T00:00:00Z"), end: ts("2027-01-01T00:00:00Z") });
    if (!("granularity" in fields)) query.granularity = Granularity.DAY;
    if (!("dimension" in fields)) query.dimension = Dimension.ASSET;
    return query;
  }

  /** Every row of a report, page by page. */
  async function allRows(query: PlayReportQuery, pageSize = 1000): Promise<PlayReportRow[]> {
    const rows: PlayReportRow[] = [];
    let pageToken = "";
    for (let pages = 0; pages < 1000; pages++) {
      const page = await reports.getPlayReport({ query, pageSize, pageToken });
      rows.push(...page.rows);
      pageToken = page.nextPageToken;
      if (pageToken === "") return rows;
    }
    throw new Error("more than 1000 pages");
  }

  const total = (rows: PlayReportRow[]) => rows.reduce((sum, row) => sum + Number(row.plays), 0);
  const summary = (rows: PlayReportRow[]) =>
    rows.map((row) => ({
      id: row.id,
      name: row.name,
      date: row.date,
      start: row.bucketStart && timestampDate(row.bucketStart).toISOString(),
      hours:
        row.bucketStart &&
        row.bucketEnd &&
        (timestampDate(row.bucketEnd).getTime() - timestampDate(row.bucketStart).getTime()) / 3_600_000,
      zone: row.timeZone,
      plays: Number(row.plays),
    }));

  /** The INVALID_ARGUMENT (or other) refusal of a call. */
  async function refusal(call: Promise<unknown>): Promise<ConnectError> {
    try {
      await call;
    } catch (error) {
      return ConnectError.from(error);
    }
    throw new Error("the call was not refused");
  }

  beforeAll(async () => {
    cp = await startRealControlPlane({ postgresAdminUrl: inject("postgresAdminUrl"), clock });
    // Uptime is tracked from when the migration ran (today's real date); this test's day is earlier.
    await cp.query("UPDATE uptime_recording SET started_at = '2026-01-01T00:00:00Z'");
    viewerToken = await cp.apiToken("viewer");
    reports = cp.client(ReportService, viewerToken);
    site = await seed(
      cp.tenant.id,
      cp.adminToken,
      {
        // In the group, zone UTC: a play every hour around both of Madrid's 2026 daylight-saving changes.
        'Lobby, "east"': [
          ...hours("2026-03-28T20:10:00Z", 30).map((at) => ({ at, video: "main" as const })),
          ...hours("2026-10-24T20:10:00Z", 30).map((at) => ({ at, video: "other" as const })),
          { at: "2026-06-15T12:30:00Z", video: "main" },
          { at: "2026-06-16T05:00:00Z", video: "main" },
        ],
        // No group, in Auckland (UTC+12 in June): the same instant is the next day there.
        auckland: [{ at: "2026-06-15T12:30:00Z", video: "main" }],
      },
      { auckland: "Pacific/Auckland" },
    );
    const tenantB = await cp.otherTenant();
    other = await seed(tenantB.id, tenantB.adminToken, {
      theirs: hours("2026-03-28T20:10:00Z", 30).map((at) => ({ at, video: "main" as const })),
    });
    // The screens have existed for three hours without a heartbeat: offline for all of them.
    clock.advance(3 * 3_600_000);
  }, 120_000);
  afterAll(async () => {
    await cp?.close();
  });

  it("makes 2026-03-29 a 23-hour day and 2026-10-25 a 25-hour day in Europe/Madrid", async () => {
    const madrid = (start: string, end: string, granularity = Granularity.DAY) =>
      playQuery({
        window: { start: ts(start), end: ts(end), timeZone: "Europe/Madrid" },
        granularity,
        screenIds: [site.screens['Lobby, "east"'] as string],
      });
    const spring = summary(await allRows(madrid("2026-03-28T23:00:00Z", "2026-03-30T22:00:00Z")));
    expect(spring).toEqual([
      {
        id: site.videoId,
        name: "Summer sale",
        date: "2026-03-29",
        start: "2026-03-28T23:00:00.000Z",
        hours: 23,
        zone: "Europe/Madrid",
        plays: 23,
      },
      {
        id: site.videoId,
        name: "Summer sale",
        date: "2026-03-30",
        start: "2026-03-29T22:00:00.000Z",
        hours: 24,
        zone: "Europe/Madrid",
        plays: 4,
      },
    ]);
    const autumn = summary(await allRows(madrid("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z")));
    expect(autumn).toEqual([
      {
        id: site.otherVideoId,
        name: "Winter sale",
        date: "2026-10-25",
        start: "2026-10-24T22:00:00.000Z",
        hours: 25,
        zone: "Europe/Madrid",
        plays: 25,
      },
    ]);
    // By the hour, the short day has 23 buckets, each its own UTC hour and dated the 29th in Madrid.
    const hourly = summary(await allRows(madrid("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", Granularity.HOUR)));
    expect(hourly).toHaveLength(23);
    expect(new Set(hourly.map((row) => row.date))).toEqual(new Set(["2026-03-29"]));
    expect(hourly.map((row) => row.start)).toEqual(
      hours("2026-03-28T23:00:00Z", 23).map((at) => new Date(at).toISOString()),
    );
    expect(hourly.every((row) => row.hours === 1 && row.plays === 1)).toBe(true);
  });

  it("puts each screen's plays in its own local days with screen_time_zone", async () => {
    const rows = summary(
      await allRows(
        playQuery({
          window: { start: ts("2026-06-14T00:00:00Z"), end: ts("2026-06-18T00:00:00Z"), screenTimeZone: true },
          videoIds: [site.videoId],
        }),
      ),
    );
    expect(rows).toEqual([
      // 12:30 UTC on the 15th: the 15th in UTC (lobby).
      {
        id: site.videoId,
        name: "Summer sale",
        date: "2026-06-15",
        start: "2026-06-15T00:00:00.000Z",
        hours: 24,
        zone: "UTC",
        plays: 1,
      },
      // 00:30 on the 16th in Auckland, and 05:00 on the 16th in UTC: two zones, so no single start.
      {
        id: site.videoId,
        name: "Summer sale",
        date: "2026-06-16",
        start: undefined,
        hours: undefined,
        zone: "",
        plays: 2,
      },
    ]);
    const perScreen = summary(
      await allRows(
        playQuery({
          window: { start: ts("2026-06-14T00:00:00Z"), end: ts("2026-06-18T00:00:00Z"), screenTimeZone: true },
          dimension: Dimension.SCREEN,
          screenIds: [site.screens.auckland as string],
        }),
      ),
    );
    expect(perScreen).toEqual([
      {
        id: site.screens.auckland,
        name: "auckland",
        date: "2026-06-16",
        start: "2026-06-15T12:00:00.000Z",
        hours: 24,
        zone: "Pacific/Auckland",
        plays: 1,
      },
    ]);
  });

  it("adds up to the same plays per asset, screen, group and playlist, named as they are now", async () => {
    const byDimension = async (dimension: Dimension) => {
      const rows = await allRows(playQuery({ dimension }));
      const ids = new Map<string, { name: string; plays: number }>();
      for (const row of rows) {
        const seen = ids.get(row.id) ?? { name: row.name, plays: 0 };
        seen.plays += Number(row.plays);
        ids.set(row.id, seen);
      }
      return Object.fromEntries(ids);
    };
    expect(await byDimension(Dimension.ASSET)).toEqual({
      [site.videoId]: { name: "Summer sale", plays: 33 },
      [site.otherVideoId]: { name: "Winter sale", plays: 30 },
    });
    expect(await byDimension(Dimension.PLAYLIST)).toEqual({ [site.playlistId]: { name: "Morning", plays: 63 } });
    expect(await byDimension(Dimension.SCREEN)).toEqual({
      [site.screens['Lobby, "east"'] as string]: { name: 'Lobby, "east"', plays: 62 },
      [site.screens.auckland as string]: { name: "auckland", plays: 1 },
    });
    const groups = await byDimension(Dimension.GROUP);
    expect(groups).toEqual({
      [site.groupId]: { name: expect.stringMatching(/^Stores /), plays: 62 },
      "": { name: "", plays: 1 },
    });
    // A group filter counts the plays of screens that were in it when they played.
    expect(total(await allRows(playQuery({ dimension: Dimension.ASSET, groupIds: [site.groupId] })))).toBe(62);
    const perScreenInGroup = await allRows(playQuery({ dimension: Dimension.SCREEN, groupIds: [site.groupId] }));
    expect(new Set(perScreenInGroup.map((row) => row.id))).toEqual(new Set([site.screens['Lobby, "east"']]));
    expect(total(perScreenInGroup)).toBe(62);
    // A deleted video's plays are still reported, and its id is still a filter (it was played here).
    await cp.query("DELETE FROM videos WHERE id = $1", [site.otherVideoId]);
    const deleted = await allRows(playQuery({ videoIds: [site.otherVideoId] }));
    expect(total(deleted)).toBe(30);
    expect(new Set(deleted.map((row) => [row.id, row.name].join("|")))).toEqual(new Set([`${site.otherVideoId}|`]));
  });

  it("never shows another tenant's plays, and answers NOT_FOUND naming its ids", async () => {
    const theirScreen = other.screens.theirs as string;
    const everything = [Dimension.ASSET, Dimension.SCREEN, Dimension.GROUP, Dimension.PLAYLIST];
    const theirIds = new Set([other.videoId, other.playlistId, other.groupId, ...Object.values(other.screens)]);
    for (const dimension of everything) {
      const rows = await allRows(playQuery({ dimension }));
      expect(total(rows), `dimension ${Dimension[dimension]}`).toBe(63);
      expect(rows.filter((row) => theirIds.has(row.id))).toEqual([]);
    }
    // Their video or playlist as a filter is as unknown as a made-up one.
    for (const [field, id] of [
      ["video_ids", other.videoId],
      ["playlist_ids", other.playlistId],
    ] as const) {
      const query = field === "video_ids" ? playQuery({ videoIds: [id] }) : playQuery({ playlistIds: [id] });
      const failure = await refusal(reports.getPlayReport({ query }));
      expect(failure.code).toBe(Code.NotFound);
      expect(failure.rawMessage).toBe(`${field.replace("_ids", "")} ${id} is not in your tenant (query.${field})`);
    }
    // A foreign id is NOT_FOUND whatever else is wrong with the query.
    const beforeAnything = await refusal(reports.getPlayReport({ query: { screenIds: [theirScreen] } }));
    expect(beforeAnything.code).toBe(Code.NotFound);
    const screenRefusal = await refusal(reports.getPlayReport({ query: playQuery({ screenIds: [theirScreen] }) }));
    expect(screenRefusal.code).toBe(Code.NotFound);
    expect(screenRefusal.rawMessage).toBe(`screen ${theirScreen} is not in your tenant (query.screen_ids)`);
    const groupRefusal = await refusal(
      reports.getUptimeReport({
        query: {
          window: { start: ts("2026-06-01T00:00:00Z"), end: ts("2026-06-02T00:00:00Z") },
          groupIds: [other.groupId],
        },
      }),
    );
    expect(groupRefusal.code).toBe(Code.NotFound);
    expect(groupRefusal.rawMessage).toBe(`group ${other.groupId} is not in your tenant (query.group_ids)`);
    const malformed = await refusal(
      reports.getPlayReport({ query: playQuery({ screenIds: [site.screens.auckland as string, "lobby-7"] }) }),
    );
    expect(malformed.code).toBe(Code.NotFound);
    expect(malformed.rawMessage).toBe("screen lobby-7 is not in your tenant (query.screen_ids)");
    // And the other way round: their report holds their plays only.
    const theirReports = cp.client(ReportService, (await cp.otherTenant()).adminToken);
    expect((await theirReports.getPlayReport({ query: playQuery({}) })).rows).toEqual([]);
  });

  it("exports CSV over the RPC and over HTTP that matches the pages and the rollups", async () => {
    const query = playQuery({
      dimension: Dimension.SCREEN,
      window: { start: ts("2026-01-01T00:00:00Z"), end: ts("2027-01-01T00:00:00Z"), timeZone: "Europe/Madrid" },
    });
    let viaRpc = "";
    const decoder = new TextDecoder();
    for await (const part of reports.exportPlayReport({ query })) viaRpc += decoder.decode(part.csv);
    const params = new URLSearchParams({
      start: "2026-01-01T00:00:00Z",
      end: "2027-01-01T00:00:00Z",
      granularity: "day",
      dimension: "screen",
      time_zone: "Europe/Madrid",
    });
    const response = await fetch(`${cp.addresses.http1Url}/v1/reports/plays.csv?${params}`, {
      headers: { authorization: `Bearer ${viewerToken}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(await response.text()).toBe(viaRpc);

    const lines = parseCsv(viaRpc);
    expect(lines[0]).toEqual([
      "id",
      "name",
      "date",
      "bucket_start",
      "bucket_end",
      "time_zone",
      "plays",
      "completed_plays",
      "seconds_played",
    ]);
    // Small pages give the same rows, in the same order.
    const paged = await allRows(query, 7);
    expect(lines.slice(1)).toEqual(
      paged.map((row) => [
        row.id,
        row.name,
        row.date,
        row.bucketStart ? timestampDate(row.bucketStart).toISOString() : "",
        row.bucketEnd ? timestampDate(row.bucketEnd).toISOString() : "",
        row.timeZone,
        String(row.plays),
        String(row.completedPlays),
        String(row.secondsPlayed),
      ]),
    );
    expect(lines.slice(1).map((line) => line[1])).toContain('Lobby, "east"');
    // And the rows are what the hourly rollup holds, added up by Madrid day here.
    const fromRollup = await cp.query<{ id: string; date: string; plays: number; seconds: number }>(
      `SELECT screen_id AS id, to_char(hour AT TIME ZONE 'Europe/Madrid', 'YYYY-MM-DD') AS date,
              sum(plays)::int AS plays, (sum(played_ms) / 1000)::int AS seconds
         FROM play_hourly WHERE tenant_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [site.tenantId],
    );
    expect(
      lines.slice(1).map((line) => ({ id: line[0], date: line[2], plays: Number(line[6]), seconds: Number(line[8]) })),
    ).toEqual(fromRollup);
  });

  it("exports uptime CSV over the RPC and HTTP that matches its pages", async () => {
    const window = { start: ts("2026-12-01T00:00:00Z"), end: ts("2026-12-08T00:00:00Z"), timeZone: "Europe/Madrid" };
    const query: UptimeReportQuery = create(UptimeReportQuerySchema, { window });
    let viaRpc = "";
    const decoder = new TextDecoder();
    for await (const part of reports.exportUptimeReport({ query })) viaRpc += decoder.decode(part.csv);
    const response = await fetch(
      `${cp.addresses.http1Url}/v1/reports/uptime.csv?start=2026-12-01T00:00:00Z&end=2026-12-08T00:00:00Z&time_zone=Europe/Madrid`,
      { headers: { authorization: `Bearer ${viewerToken}` } },
    );
    expect(await response.text()).toBe(viaRpc);
    const pages = [];
    let pageToken = "";
    do {
      const page = await reports.getUptimeReport({ query, pageSize: 3, pageToken });
      pages.push(...page.rows);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    const lines = parseCsv(viaRpc).slice(1);
    // Both screens, a row per Madrid day (the 1st to the 8th: the range ends at 01:00 local on the 8th).
    expect(pages).toHaveLength(2 * 8);
    expect(lines.map((line) => [line[0], line[2]])).toEqual(pages.map((row) => [row.screenId, row.date]));
    const today = pages.filter((row) => row.date === "2026-12-06");
    expect(today.map((row) => row.offlineSeconds)).toEqual([3 * 3600, 3 * 3600]);
    for (const [index, row] of pages.entries()) {
      const span =
        (timestampDate(row.dayEnd as never).getTime() - timestampDate(row.dayStart as never).getTime()) / 1000;
      const parts =
        row.playingSeconds + row.displayOffSeconds + row.idleSeconds + row.offlineSeconds + row.untrackedSeconds;
      expect(parts, `row ${index}: the parts make the day`).toBeCloseTo(span, 3);
      expect(Number(lines[index]?.[9])).toBeCloseTo(row.offlineSeconds, 3);
    }
  });

  it("answers INVALID_ARGUMENT saying what to fix for a reversed range, a long one or an unknown zone", async () => {
    const cases: Array<[MessageInitShape<typeof PlayReportQuerySchema>, RegExp]> = [
      [
        { window: { start: ts("2026-04-01T00:00:00Z"), end: ts("2026-03-01T00:00:00Z") } },
        /must be after window\.start .*swap them/,
      ],
      [
        { window: { start: ts("2025-01-01T00:00:00Z"), end: ts("2026-06-01T00:00:00Z") } },
        /at most 400 days \(reports\.maxRangeDays\): split it/,
      ],
      [
        { window: { start: ts("2026-03-01T00:00:00Z"), end: ts("2026-03-02T00:00:00Z"), timeZone: "Europe/Madird" } },
        /window\.time_zone "Europe\/Madird" is not an IANA time zone name/,
      ],
      [{ granularity: Granularity.HOUR }, /hourly buckets cover at most 31 days/],
    ];
    for (const [fields, message] of cases) {
      const failure = await refusal(reports.getPlayReport({ query: playQuery(fields) }));
      expect(failure.code, String(message)).toBe(Code.InvalidArgument);
      expect(failure.rawMessage).toMatch(message);
    }
    const stream = await refusal(
      (async () => {
        for await (const _ of reports.exportPlayReport({ query: playQuery({ dimension: Dimension.UNSPECIFIED }) })) {
          // nothing arrives before the refusal
        }
      })(),
    );
    expect(stream.code).toBe(Code.InvalidArgument);
    expect(stream.rawMessage).toMatch(/set query\.dimension/);
    const viaHttp = await fetch(
      `${cp.addresses.http1Url}/v1/reports/plays.csv?start=yesterday&end=2026-03-02T00:00:00Z&granularity=day&dimension=asset`,
      { headers: { authorization: `Bearer ${viewerToken}` } },
    );
    expect(viaHttp.status).toBe(400);
    expect(await viaHttp.json()).toEqual({
      code: "invalid_argument",
      message: "start must be an RFC 3339 time with its offset, such as 2026-03-29T00:00:00+01:00",
    });
  });

  it("lets no caller without a token read a report", async () => {
    const anonymous = createClient(ReportService, createGrpcTransport({ baseUrl: cp.addresses.http2Url }));
    expect((await refusal(anonymous.getPlayReport({ query: playQuery({}) }))).code).toBe(Code.Unauthenticated);
    const viaHttp = await fetch(
      `${cp.addresses.http1Url}/v1/reports/uptime.csv?start=2026-12-01T00:00:00Z&end=2026-12-02T00:00:00Z`,
    );
    expect(viaHttp.status).toBe(401);
  });
});

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF) into rows of fields. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  return rows;
}
