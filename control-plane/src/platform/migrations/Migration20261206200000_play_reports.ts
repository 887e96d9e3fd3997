import { PlayEventSchema } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Migration } from "@mikro-orm/migrations";

/**
 * Proof of play at scale (issue 15): the raw `play_events` table becomes a table partitioned by
 * UTC day of `started_at`, with hourly rollups (per screen × video × playlist, per screen, per
 * tenant × group × zone × video × playlist, per tenant × group × zone, per tenant × zone × video ×
 * playlist) and hourly screen uptime, each partitioned by UTC
 * month of `hour`. Partitions are created ahead and dropped on expiry by src/fleet/report/partitions.ts;
 * this migration only creates those the converted rows need.
 *
 * A partitioned table's primary key must contain its partition key, so raw events are unique on
 * (screen_id, started_at, event_key): a resent event carries the same started_at (the player
 * resends the stored batch), so the key still catches it. Events too old for a raw partition are
 * counted through `play_event_late_keys` instead, which is not partitioned.
 *
 * The existing rows are kept: each stored event is decoded (the old table kept the encoded
 * PlayEvent) and goes where the ingest would put it today with the default retention (7 days raw,
 * 13 months of rollups): raw and counted, counted only (older than 7 days), or dropped (no
 * started_at, older than the rollup months, or more than a day in the future: no hour to count
 * them in). Rollups take each screen's group and zone as they are now, since the old rows did not
 * record them. The statements here are copies, not imports, so the migration never changes after
 * release; the DDL is the same as the ingest and partition code expect.
 */
export class Migration20261206200000_play_reports extends Migration {
  override name = "Migration20261206200000_play_reports";

  override async up(): Promise<void> {
    await this.execute(`alter table "play_events" rename to "play_events_v1";`);
    await this.execute(`alter table "play_events_v1" rename constraint "play_events_pkey" to "play_events_v1_pkey";`);
    await this.execute(
      `alter index "play_events_tenant_id_started_at_index" rename to "play_events_v1_tenant_id_started_at_index";`,
    );

    // Raw events. event_key is the event id when it is a UUID (what players send), else the MD5 of
    // it as a UUID: 16 bytes instead of up to 100 at ~86 million rows a day. Ids of videos,
    // playlists and rules are NULL when the player sent none or something that is not a UUID.
    await this.execute(
      `create table "play_events" ("started_at" timestamptz not null, "received_at" timestamptz not null, "screen_id" uuid not null references "screens" ("id") on delete cascade, "event_key" uuid not null, "tenant_id" uuid not null, "video_id" uuid null, "playlist_id" uuid null, "rule_id" uuid null, "played_ms" int not null, "outcome" smallint not null, "asset_sha256" bytea null, primary key ("screen_id", "started_at", "event_key")) partition by range ("started_at");`,
    );
    await this.execute(
      `create table "play_event_late_keys" ("screen_id" uuid not null references "screens" ("id") on delete cascade, "started_at" timestamptz not null, "event_key" uuid not null, "received_at" timestamptz not null, primary key ("screen_id", "started_at", "event_key"));`,
    );
    await this.execute(
      `create index "play_event_late_keys_received_at_index" on "play_event_late_keys" ("received_at");`,
    );
    // Rollups. A missing video or playlist id is the nil UUID, no group is the nil UUID, so every
    // key column is NOT NULL. group_id and time_zone are the screen's when it played.
    await this.execute(
      `create table "play_hourly" ("hour" timestamptz not null, "screen_id" uuid not null references "screens" ("id") on delete cascade, "video_id" uuid not null, "playlist_id" uuid not null, "tenant_id" uuid not null, "group_id" uuid not null, "played_ms" bigint not null, "plays" int not null, "completed" int not null, "time_zone" text not null, primary key ("screen_id", "hour", "video_id", "playlist_id")) partition by range ("hour");`,
    );
    // Per screen and hour, all clips together: what per-screen reports read (a tenth of play_hourly's rows).
    await this.execute(
      `create table "play_screen_hourly" ("hour" timestamptz not null, "screen_id" uuid not null references "screens" ("id") on delete cascade, "tenant_id" uuid not null, "group_id" uuid not null, "played_ms" bigint not null, "plays" int not null, "completed" int not null, "time_zone" text not null, primary key ("screen_id", "hour")) partition by range ("hour");`,
    );
    // Per tenant, group and zone, all clips together: per-group reports.
    await this.execute(
      `create table "play_group_hourly" ("hour" timestamptz not null, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "group_id" uuid not null, "played_ms" bigint not null, "plays" int not null, "completed" int not null, "time_zone" text not null, primary key ("tenant_id", "hour", "group_id", "time_zone")) partition by range ("hour");`,
    );
    // Per tenant, zone, video and playlist, all screens and groups together: per-asset and per-playlist reports.
    await this.execute(
      `create table "play_tenant_hourly" ("hour" timestamptz not null, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "video_id" uuid not null, "playlist_id" uuid not null, "played_ms" bigint not null, "plays" int not null, "completed" int not null, "time_zone" text not null, primary key ("tenant_id", "hour", "time_zone", "video_id", "playlist_id")) partition by range ("hour");`,
    );
    await this.execute(
      `create table "play_group_clip_hourly" ("hour" timestamptz not null, "tenant_id" uuid not null references "tenants" ("id") on delete cascade, "group_id" uuid not null, "video_id" uuid not null, "playlist_id" uuid not null, "played_ms" bigint not null, "plays" int not null, "completed" int not null, "time_zone" text not null, primary key ("tenant_id", "hour", "group_id", "time_zone", "video_id", "playlist_id")) partition by range ("hour");`,
    );
    await this.execute(
      `create table "screen_uptime_hourly" ("hour" timestamptz not null, "screen_id" uuid not null references "screens" ("id") on delete cascade, "tenant_id" uuid not null, "playing_ms" int not null default 0, "display_off_ms" int not null default 0, "idle_ms" int not null default 0, primary key ("screen_id", "hour")) partition by range ("hour");`,
    );
    // Uptime before this instant was never recorded: reports call it untracked, not offline.
    await this.execute(`create table "uptime_recording" ("started_at" timestamptz not null);`);
    await this.execute(`insert into "uptime_recording" ("started_at") values (now());`);

    await this.#convert(new Date());
    await this.execute(`drop table "play_events_v1";`);
  }

  async #convert(now: Date): Promise<void> {
    const day = 86_400_000;
    const today = Math.floor(now.getTime() / day) * day;
    const rawFrom = new Date(today - 7 * day);
    const acceptFrom = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 13, 1));
    const acceptUntil = new Date(now.getTime() + day);
    const [range] = await this.execute(
      `select min(started_at) as first, max(started_at) as last from "play_events_v1"
        where started_at >= ?::timestamptz and started_at <= ?::timestamptz`,
      [acceptFrom.toISOString(), acceptUntil.toISOString()],
    );
    if (!range?.first) return;
    const first = new Date(range.first as string | Date);
    const last = new Date(range.last as string | Date);
    const pad = (n: number) => String(n).padStart(2, "0");
    for (let t = Math.max(rawFrom.getTime(), Math.floor(first.getTime() / day) * day); t <= last.getTime(); t += day) {
      const d = new Date(t);
      const name = `play_events_d${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
      await this.execute(
        `create table "${name}" partition of "play_events" for values from ('${d.toISOString()}') to ('${new Date(t + day).toISOString()}');`,
      );
    }
    for (let m = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), 1)); m <= last; ) {
      const next = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1));
      const stamp = `${m.getUTCFullYear()}${pad(m.getUTCMonth() + 1)}`;
      for (const table of [
        "play_hourly",
        "play_screen_hourly",
        "play_group_clip_hourly",
        "play_group_hourly",
        "play_tenant_hourly",
        "screen_uptime_hourly",
      ]) {
        await this.execute(
          `create table "${table}_m${stamp}" partition of "${table}" for values from ('${m.toISOString()}') to ('${next.toISOString()}');`,
        );
      }
      m = next;
    }

    await this.execute(
      `create temporary table "play_events_v1_decoded" ("screen_id" uuid not null, "tenant_id" uuid not null, "event_key" uuid not null, "started_at" timestamptz not null, "played_ms" int not null, "video_id" uuid null, "playlist_id" uuid null, "rule_id" uuid null, "asset_sha256" bytea null, "outcome" smallint not null) on commit drop;`,
    );
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    const asUuid = (value: string) => (uuid.test(value) ? value.toLowerCase() : null);
    let after = { screenId: "00000000-0000-0000-0000-000000000000", eventId: "" };
    for (;;) {
      const rows = await this.execute(
        `select screen_id, tenant_id, event_id, event from "play_events_v1"
          where started_at >= ?::timestamptz and started_at <= ?::timestamptz and (screen_id, event_id) > (?::uuid, ?)
          order by screen_id, event_id limit 5000`,
        [acceptFrom.toISOString(), acceptUntil.toISOString(), after.screenId, after.eventId],
      );
      if (rows.length === 0) break;
      const decoded: Array<Record<string, string | number | null>> = [];
      for (const row of rows) {
        const event = fromBinary(PlayEventSchema, row.event as Uint8Array);
        if (!event.startedAt) continue;
        const started = timestampDate(event.startedAt);
        const ended = event.endedAt ? timestampDate(event.endedAt).getTime() : started.getTime();
        decoded.push({
          screen_id: row.screen_id as string,
          tenant_id: row.tenant_id as string,
          event_id: row.event_id as string,
          started_at: started.toISOString(),
          played_ms: Math.min(Math.max(ended - started.getTime(), 0), 3_600_000),
          video_id: asUuid(event.videoId),
          playlist_id: asUuid(event.playlistId),
          rule_id: asUuid(event.ruleId),
          sha: /^[0-9a-f]{64}$/i.test(event.assetSha256) ? event.assetSha256.toLowerCase() : null,
          outcome: event.outcome,
        });
      }
      const last = rows[rows.length - 1] as { screen_id: string; event_id: string };
      after = { screenId: last.screen_id, eventId: last.event_id };
      if (decoded.length === 0) continue;
      // One JSON parameter: the migration's execute() inlines parameters as SQL literals.
      await this.execute(
        `insert into "play_events_v1_decoded"
         select v.screen_id, v.tenant_id,
                case when v.event_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                     then v.event_id::uuid else md5(v.event_id)::uuid end,
                v.started_at, v.played_ms, v.video_id, v.playlist_id, v.rule_id, decode(v.sha, 'hex'), v.outcome
           from jsonb_to_recordset(?::jsonb)
                as v(screen_id uuid, tenant_id uuid, event_id text, started_at timestamptz, played_ms int, video_id uuid,
                     playlist_id uuid, rule_id uuid, sha text, outcome smallint)`,
        [JSON.stringify(decoded)],
      );
    }

    await this.execute(
      `insert into "play_events" (started_at, received_at, screen_id, event_key, tenant_id, video_id, playlist_id, rule_id, played_ms, outcome, asset_sha256)
       select started_at, now(), screen_id, event_key, tenant_id, video_id, playlist_id, rule_id, played_ms, outcome, asset_sha256
         from "play_events_v1_decoded" where started_at >= ?::timestamptz
       on conflict do nothing;`,
      [rawFrom.toISOString()],
    );
    await this.execute(
      `insert into "play_event_late_keys" (screen_id, started_at, event_key, received_at)
       select screen_id, started_at, event_key, now() from "play_events_v1_decoded" where started_at < ?::timestamptz
       on conflict do nothing;`,
      [rawFrom.toISOString()],
    );
    const nil = "00000000-0000-0000-0000-000000000000";
    await this.execute(
      `insert into "play_hourly" (hour, screen_id, video_id, playlist_id, tenant_id, group_id, played_ms, plays, completed, time_zone)
       select date_trunc('hour', d.started_at, 'UTC'), d.screen_id, coalesce(d.video_id, '${nil}'),
              coalesce(d.playlist_id, '${nil}'), s.tenant_id, coalesce(s.group_id, '${nil}'), sum(d.played_ms),
              count(*), count(*) filter (where d.outcome = 1), s.timezone
         from "play_events_v1_decoded" d join "screens" s on s.id = d.screen_id
        group by 1, 2, 3, 4, 5, 6, 10;`,
    );
    await this.execute(
      `insert into "play_screen_hourly" (hour, screen_id, tenant_id, group_id, played_ms, plays, completed, time_zone)
       select hour, screen_id, tenant_id, group_id, sum(played_ms), sum(plays), sum(completed), time_zone
         from "play_hourly" group by hour, screen_id, tenant_id, group_id, time_zone;`,
    );
    await this.execute(
      `insert into "play_group_clip_hourly" (hour, tenant_id, group_id, video_id, playlist_id, played_ms, plays, completed, time_zone)
       select hour, tenant_id, group_id, video_id, playlist_id, sum(played_ms), sum(plays), sum(completed), time_zone
         from "play_hourly" group by hour, tenant_id, group_id, time_zone, video_id, playlist_id;`,
    );
    await this.execute(
      `insert into "play_group_hourly" (hour, tenant_id, group_id, played_ms, plays, completed, time_zone)
       select hour, tenant_id, group_id, sum(played_ms), sum(plays), sum(completed), time_zone
         from "play_hourly" group by hour, tenant_id, group_id, time_zone;`,
    );
    await this.execute(
      `insert into "play_tenant_hourly" (hour, tenant_id, video_id, playlist_id, played_ms, plays, completed, time_zone)
       select hour, tenant_id, video_id, playlist_id, sum(played_ms), sum(plays), sum(completed), time_zone
         from "play_hourly" group by hour, tenant_id, time_zone, video_id, playlist_id;`,
    );
  }
}
