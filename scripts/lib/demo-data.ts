import { createReadStream } from "node:fs";
import {
  ContentService,
  type UploadVideoRequest,
  UploadVideoRequestSchema,
} from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { DayOfWeek } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { ensureDemoClips } from "./demo-clips.ts";

/** What {@link populateDemoContent} made (or found from an earlier run). */
export interface DemoContent {
  /** Video id by clip title. */
  videoIds: Map<string, string>;
  /** Playlist id by name. */
  playlists: Record<string, string>;
  /**
   * Every playlist's clips in order, with what a screen's proof of play names (the demo's simulated
   * screens play these).
   */
  playlistClips: Array<{ playlistId: string; videoId: string; sha256: string; durationMs: number }>;
}

/**
 * The demo tenant's content, as `make demo` shows it and the ops tests (runbook commands, backup
 * drill) use it: the five generated clips uploaded, four playlists, three dayparts (weekday
 * breakfast, lunch, evening) and a default playlist for the whole tenant. `transport` carries an
 * editor's or admin's token of the tenant (gRPC: uploads are client streams). Idempotent: clips
 * are deduplicated by the server, playlists and rules found by name are kept.
 */
export async function populateDemoContent(transport: Transport, clipsDir: string): Promise<DemoContent> {
  const content = createClient(ContentService, transport);
  const schedule = createClient(ScheduleService, transport);
  const clips = await ensureDemoClips(clipsDir);
  const videoIds = new Map<string, string>();
  const videos = new Map<string, { sha256: string; durationMs: number }>();
  for (const clip of clips) {
    const { video } = await content.uploadVideo(uploadStream(clip.path, clip.name));
    if (video) {
      videoIds.set(clip.name, video.id);
      videos.set(video.id, { sha256: video.sha256, durationMs: video.durationMs });
    }
  }
  const ids = (...names: string[]) => names.map((name) => videoIds.get(name) ?? "").filter(Boolean);
  const wanted = {
    "Welcome loop": ids("Welcome to AVTech", "Company news"),
    Breakfast: ids("Breakfast until 11 am", "Welcome to AVTech"),
    Lunch: ids("Lunch menu", "Company news"),
    Evening: ids("Evening specials", "Welcome to AVTech"),
  };
  const playlists = await ensurePlaylists(schedule, wanted);
  const playlistClips = Object.entries(wanted).flatMap(([name, list]) =>
    list.map((videoId) => ({
      playlistId: playlists[name] ?? "",
      videoId,
      sha256: videos.get(videoId)?.sha256 ?? "",
      durationMs: videos.get(videoId)?.durationMs ?? 0,
    })),
  );
  const weekdays = [DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY];
  await ensureRules(schedule, [
    {
      name: "Weekday breakfast",
      playlistId: playlists.Breakfast,
      from: 6 * 60,
      to: 11 * 60,
      days: weekdays,
      priority: 10,
    },
    { name: "Lunch", playlistId: playlists.Lunch, from: 11 * 60, to: 15 * 60, days: [], priority: 10 },
    { name: "Evening", playlistId: playlists.Evening, from: 18 * 60, to: 23 * 60, days: [], priority: 10 },
  ]);
  await schedule.setDefaultPlaylist({
    target: { kind: { case: "wholeTenant", value: true } },
    playlistId: playlists["Welcome loop"],
  });
  return { videoIds, playlists, playlistClips };
}

function uploadStream(path: string, name: string): AsyncIterable<UploadVideoRequest> {
  return (async function* () {
    yield create(UploadVideoRequestSchema, {
      part: { case: "metadata", value: { fileName: `${name.toLowerCase().replace(/\W+/g, "-")}.mp4`, name } },
    });
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      yield create(UploadVideoRequestSchema, { part: { case: "chunk", value: chunk as Buffer } });
    }
  })();
}

async function ensurePlaylists(
  schedule: Client<typeof ScheduleService>,
  wanted: Record<string, string[]>,
): Promise<Record<string, string>> {
  const { playlists } = await schedule.listPlaylists({});
  const result: Record<string, string> = {};
  for (const [name, videoIds] of Object.entries(wanted)) {
    const existing = playlists.find((playlist) => playlist.name === name);
    result[name] = existing ? existing.id : ((await schedule.createPlaylist({ name, videoIds })).playlist?.id ?? "");
  }
  return result;
}

async function ensureRules(
  schedule: Client<typeof ScheduleService>,
  wanted: Array<{
    name: string;
    playlistId: string | undefined;
    from: number;
    to: number;
    days: DayOfWeek[];
    priority: number;
  }>,
): Promise<void> {
  const { rules } = await schedule.listRules({});
  for (const rule of wanted) {
    if (rules.some((existing) => existing.name === rule.name)) continue;
    await schedule.createRule({
      rule: {
        name: rule.name,
        target: { kind: { case: "wholeTenant", value: true } },
        playlistId: rule.playlistId ?? "",
        priority: rule.priority,
        daysOfWeek: rule.days,
        window: { startMinute: rule.from, endMinute: rule.to },
        enabled: true,
      },
    });
  }
}
