import { randomUUID } from "node:crypto";
import {
  Dimension,
  Granularity,
  PlayReportQuerySchema,
  ReportWindowSchema,
} from "@avtech/proto/gen/avtech/report/v1/report_pb.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { pageFrom, pageToken, playQueryFrom, queryFingerprint, uptimeQueryFrom } from "./query.ts";

const tenant = randomUUID();
const limits = { maxRangeDays: 400 };
const ts = (iso: string) => timestampFromDate(new Date(iso));

function query(fields: MessageInitShape<typeof PlayReportQuerySchema> = {}) {
  return create(PlayReportQuerySchema, {
    window: create(ReportWindowSchema, { start: ts("2026-03-01T00:00:00Z"), end: ts("2026-04-01T00:00:00Z") }),
    granularity: Granularity.DAY,
    dimension: Dimension.ASSET,
    ...fields,
  });
}

/** The INVALID_ARGUMENT message `work` throws. */
function refusal(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    const failure = ConnectError.from(error);
    expect(failure.code).toBe(Code.InvalidArgument);
    return failure.rawMessage;
  }
  throw new Error("expected INVALID_ARGUMENT");
}

describe("play report queries", () => {
  it("take whole hours, UTC by default, and round other instants up to the hour", () => {
    const plain = playQueryFrom(tenant, query(), limits);
    expect(plain.window).toEqual({
      start: new Date("2026-03-01T00:00:00Z"),
      end: new Date("2026-04-01T00:00:00Z"),
      zone: { kind: "fixed", name: "UTC" },
    });
    // Asia/Kolkata's midnight is 18:30 UTC: its local days are the hours from 00:30 local.
    const kolkata = playQueryFrom(
      tenant,
      query({
        window: { start: ts("2026-02-28T18:30:00Z"), end: ts("2026-03-31T18:30:00Z"), timeZone: "Asia/Kolkata" },
      }),
      limits,
    );
    expect(kolkata.window.start).toEqual(new Date("2026-02-28T19:00:00Z"));
    expect(kolkata.window.end).toEqual(new Date("2026-03-31T19:00:00Z"));
  });

  it("refuse a reversed or empty range and say to swap it", () => {
    expect(
      refusal(() =>
        playQueryFrom(
          tenant,
          query({ window: { start: ts("2026-04-01T00:00:00Z"), end: ts("2026-03-01T00:00:00Z") } }),
          limits,
        ),
      ),
    ).toMatch(/window\.end \(2026-03-01T00:00:00\.000Z\) must be after window\.start .*swap them/);
    expect(
      refusal(() => playQueryFrom(tenant, query({ window: { start: ts("2026-04-01T00:00:00Z") } }), limits)),
    ).toMatch(/set window\.start and window\.end/);
  });

  it("refuse a range longer than reports.maxRangeDays, and hourly buckets over more than 31 days", () => {
    const long = query({ window: { start: ts("2025-01-01T00:00:00Z"), end: ts("2026-02-06T00:00:00Z") } });
    expect(refusal(() => playQueryFrom(tenant, long, limits))).toMatch(
      /the range is 401 days; one report covers at most 400 days \(reports\.maxRangeDays\): split it/,
    );
    // March is 31 days: hourly is fine; a day more is not.
    expect(playQueryFrom(tenant, query({ granularity: Granularity.HOUR }), limits).granularity).toBe("hour");
    const march = { start: ts("2026-03-01T00:00:00Z"), end: ts("2026-04-02T00:00:00Z") };
    expect(
      refusal(() => playQueryFrom(tenant, query({ granularity: Granularity.HOUR, window: march }), limits)),
    ).toMatch(/hourly buckets cover at most 31 days and the range is 32: ask for daily buckets or a shorter range/);
  });

  it("refuse a zone that is not an IANA name, offsets included, and name the zone", () => {
    const zoned = (timeZone: string) =>
      query({ window: { start: ts("2026-03-01T00:00:00Z"), end: ts("2026-03-02T00:00:00Z"), timeZone } });
    expect(refusal(() => playQueryFrom(tenant, zoned("Mars/Olympus_Mons"), limits))).toBe(
      'window.time_zone "Mars/Olympus_Mons" is not an IANA time zone name: use one such as Europe/Madrid or UTC',
    );
    // PostgreSQL would read "+03:00" as POSIX: three hours WEST of Greenwich.
    expect(refusal(() => playQueryFrom(tenant, zoned("+03:00"), limits))).toMatch(/"\+03:00" is not an IANA/);
    expect(playQueryFrom(tenant, zoned("Europe/Madrid"), limits).window.zone).toEqual({
      kind: "fixed",
      name: "Europe/Madrid",
    });
  });

  it("take each screen's zone for daily buckets only, and not together with a named zone", () => {
    const screenZone = (fields: Partial<{ timeZone: string }>, granularity = Granularity.DAY) =>
      query({
        granularity,
        window: { start: ts("2026-03-01T00:00:00Z"), end: ts("2026-03-02T00:00:00Z"), screenTimeZone: true, ...fields },
      });
    expect(playQueryFrom(tenant, screenZone({}), limits).window.zone).toEqual({ kind: "screen" });
    expect(refusal(() => playQueryFrom(tenant, screenZone({ timeZone: "UTC" }), limits))).toBe(
      "set window.time_zone or window.screen_time_zone, not both",
    );
    expect(refusal(() => playQueryFrom(tenant, screenZone({}, Granularity.HOUR), limits))).toMatch(
      /hours are the same in every zone: ask for daily buckets/,
    );
  });

  it("need a granularity and a dimension, and at most 1000 ids per filter", () => {
    expect(refusal(() => playQueryFrom(tenant, query({ granularity: Granularity.UNSPECIFIED }), limits))).toMatch(
      /set query\.granularity: GRANULARITY_HOUR or GRANULARITY_DAY/,
    );
    expect(refusal(() => playQueryFrom(tenant, query({ dimension: Dimension.UNSPECIFIED }), limits))).toMatch(
      /set query\.dimension/,
    );
    expect(
      refusal(() =>
        playQueryFrom(tenant, query({ playlistIds: Array.from({ length: 1001 }, () => randomUUID()) }), limits),
      ),
    ).toMatch(/query\.playlist_ids holds 1001 ids; at most 1000/);
    const upper = randomUUID().toUpperCase();
    expect(playQueryFrom(tenant, query({ screenIds: [upper, upper.toLowerCase()] }), limits).screenIds).toEqual([
      upper.toLowerCase(),
    ]);
  });

  it("uptime queries validate the window the same way", () => {
    expect(
      refusal(() =>
        uptimeQueryFrom(
          tenant,
          { $typeName: "avtech.report.v1.UptimeReportQuery", screenIds: [], groupIds: [] },
          limits,
        ),
      ),
    ).toMatch(/set window\.start and window\.end/);
  });
});

describe("page tokens", () => {
  it("carry the position and are accepted only with the query they were made for", () => {
    const first = playQueryFrom(tenant, query(), limits);
    const other = playQueryFrom(tenant, query({ dimension: Dimension.SCREEN }), limits);
    const key = randomUUID();
    const token = pageToken({ key, label: "2026-03-07" }, queryFingerprint(first));
    expect(pageFrom(0, token, queryFingerprint(first))).toEqual({
      size: 1000,
      after: { key, label: "2026-03-07" },
    });
    expect(pageFrom(50_000, "", queryFingerprint(first))).toEqual({ size: 10_000, after: undefined });
    expect(refusal(() => pageFrom(10, token, queryFingerprint(other)))).toMatch(
      /page_token belongs to a different query/,
    );
    expect(refusal(() => pageFrom(10, "not a token", queryFingerprint(first)))).toMatch(
      /page_token is not one this report gave out: start again without it/,
    );
    expect(pageToken(undefined, queryFingerprint(first))).toBe("");
  });
});
