/**
 * The object store down for a minute while real players fetch (issue 14's fault): the S3 store
 * (s3rver) under two replicas behind HAProxy, a real player daemon (player/src/cli.ts run, as
 * systemd runs it, with mpv on null video and audio outputs) and a simulated screen streaming and
 * downloading through the balancer. One real player only: a second on this machine would read the
 * same /etc/machine-id as its hardware id and be the same screen. Run by `make test-full` (needs Debian's haproxy). The player is started as a
 * process, not imported: the control plane and the player never import each other.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { createClipFactory } from "../lib/clips.ts";
import { startS3Emulator } from "../lib/s3-emulator.ts";
import { uploadMessages } from "../lib/upload.ts";
import { type FleetOnCluster, startFleetOnCluster, waitUntil } from "./fleet-on-cluster.ts";

const playerCli = join(import.meta.dirname, "..", "..", "..", "player", "src", "cli.ts");
const outageMs = 60_000;

/** A real player process and what it logged (pino JSON lines). */
interface PlayerProcess {
  name: string;
  child: ChildProcess;
  dataDir: string;
  log: { msg?: string; reason?: string; level?: number; [key: string]: unknown }[];
  exited: boolean;
  stderr: string;
}

async function startPlayerProcess(root: string, name: string, frontUrl: string, enrollmentKey: string) {
  const dataDir = join(root, name);
  await mkdir(dataDir, { recursive: true });
  const configPath = join(dataDir, "avtech.toml");
  await writeFile(
    configPath,
    [
      `control_plane_url = "${frontUrl}"`,
      `enrollment_key = "${enrollmentKey}"`,
      `data_dir = "${dataDir}"`,
      "max_media_bytes = 104857600",
      "min_free_bytes = 1048576",
      "heartbeat_interval_seconds = 5",
      "",
      "[mpv]",
      'vo = "null"',
      'extra_args = ["--ao=null"]',
      "",
    ].join("\n"),
  );
  const child = spawn(process.execPath, [playerCli, "run", "--config", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
    // The test run silences logs through LOG_LEVEL; the test reads this player's.
    env: { ...process.env, LOG_LEVEL: "info" },
  });
  const player: PlayerProcess = { name, child, dataDir, log: [], exited: false, stderr: "" };
  child.once("exit", () => {
    player.exited = true;
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    try {
      player.log.push(JSON.parse(line));
    } catch {
      // not a log line
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    player.stderr = (player.stderr + chunk.toString()).slice(-4000);
  });
  return player;
}

/** What `avtech-player status` reads: the status file the player rewrites every 5 s. */
async function statusOf(player: PlayerProcess): Promise<{
  playback?: { state?: string; assetSha256?: string };
  reconcile?: { lastError?: { reason?: string } };
}> {
  try {
    return JSON.parse(await readFile(join(player.dataDir, "v1", "status.json"), "utf8"));
  } catch {
    return {};
  }
}

/** The files of the player's media cache: complete assets (named by sha256) and resumable `.part`s. */
async function mediaFiles(player: PlayerProcess): Promise<string[]> {
  return readdir(join(player.dataDir, "media", "v1")).catch(() => []);
}

let running: FleetOnCluster | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe("the object store down for a minute, with real players fetching", () => {
  it("keeps players playing from cache, fails uploads cleanly, and the players fetch and ack once it is back", async () => {
    const s3 = await startS3Emulator();
    const clips = await createClipFactory();
    const root = await mkdtemp(join(tmpdir(), "avtech-outage-players-"));
    const players: PlayerProcess[] = [];
    try {
      const f = await startFleetOnCluster({
        replicas: 2,
        screens: 1,
        screenQuota: 2,
        replicaEnv: {
          AVTECH_BLOB_STORE: "s3",
          AVTECH_S3_ENDPOINT: s3.endpoint,
          AVTECH_S3_BUCKET: s3.bucket,
          AVTECH_S3_ACCESS_KEY_ID: "S3RVER",
          AVTECH_S3_SECRET_ACCESS_KEY: "S3RVER",
        },
      });
      running = f;
      const upload = async (name: string, seconds: number) => {
        const path = await clips.video(name, { seconds });
        const response = await f.content.uploadVideo(uploadMessages(path, { fileName: name }));
        return { id: response.video?.id ?? "", sha256: response.video?.sha256 ?? "" };
      };
      const clipA = await upload("a.mp4", 4);
      // B is uploaded before the outage; only the publish that adds it happens during it.
      const clipB = await upload("b.mp4", 3);
      /** Makes the tenant's default playlist these clips and publishes; returns when it was published. */
      const publishPlaylist = async (videoIds: string[]) => {
        await f.query(
          `WITH playlist AS (
             INSERT INTO playlists (id, tenant_id, name, created_at, updated_at)
             VALUES (gen_random_uuid(), $1, $2, now(), now()) RETURNING id
           ), items AS (
             INSERT INTO playlist_items (id, playlist_id, position, video_id)
             SELECT gen_random_uuid(), playlist.id, v.ord - 1, v.id
             FROM playlist, unnest($3::uuid[]) WITH ORDINALITY AS v(id, ord)
           )
           INSERT INTO default_playlists (id, tenant_id, scope, playlist_id)
           SELECT gen_random_uuid(), $1, 'tenant', id FROM playlist
           ON CONFLICT (tenant_id, scope) DO UPDATE SET playlist_id = excluded.playlist_id`,
          [f.tenantId, `playlist of ${videoIds.length}`, videoIds],
        );
        const at = new Date();
        await f.publish.publish({});
        return at;
      };
      const acked = async (since: Date) =>
        (
          await f.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM screen_status WHERE desired_at >= $1 AND applied_version = desired_version",
            [since],
          )
        )[0]?.n ?? 0;

      const { enrollmentKey } = await f.fleet.createEnrollmentKey({ name: "real players" });
      players.push(await startPlayerProcess(root, "player-1", f.cluster.frontUrl, enrollmentKey));
      await waitUntil(
        async () =>
          (await f.query<{ n: number }>("SELECT count(*)::int AS n FROM screens"))[0]?.n === 2 &&
          (await f.streamsPerReplica()).reduce((a, b) => a + b, 0) === 2,
        60_000,
        async () =>
          `the real player did not enroll and connect within 60 s: screens ${JSON.stringify(
            await f.query("SELECT count(*)::int AS n FROM screens"),
          )}, streams ${await f.streamsPerReplica()}; ${players
            .map(
              (p) =>
                `${p.name} exited=${p.exited} last log ${JSON.stringify(p.log.slice(-3))} stderr ${p.stderr.slice(-500)}`,
            )
            .join("; ")}`,
      );

      // Clip A cached and playing on the player.
      const publishedA = await publishPlaylist([clipA.id]);
      await waitUntil(
        async () => (await acked(publishedA)) === 2,
        90_000,
        async () => `A acked by ${await acked(publishedA)} / 2`,
      );
      await waitUntil(
        async () =>
          (await Promise.all(players.map(statusOf))).every(
            (s) => /PLAYING/.test(s.playback?.state ?? "") && s.playback?.assetSha256 === clipA.sha256,
          ),
        30_000,
        async () => `not playing A: ${JSON.stringify(await Promise.all(players.map(statusOf)))}`,
      );
      const logBefore = players.map((p) => p.log.length);

      // The store goes down for a minute; a publish adds B to the playlist at once.
      await s3.stop();
      const down = Date.now();
      const publishedB = await publishPlaylist([clipA.id, clipB.id]);
      const refused = await f.content
        .uploadVideo(uploadMessages(await clips.video("c.mp4", { seconds: 2 }), { fileName: "c.mp4" }))
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.Unavailable);
      expect((await f.query<{ n: number }>("SELECT count(*)::int AS n FROM videos"))[0]?.n, "no row for C").toBe(2);
      expect(await readdir(join(f.blobDir, "tmp")), "no temp file of C on the replicas").toEqual([]);

      let samples = 0;
      while (Date.now() - down < outageMs) {
        for (const player of players) {
          const status = await statusOf(player);
          expect(player.exited, `${player.name} is still running`).toBe(false);
          expect(status.playback?.state, `${player.name} keeps playing`).toMatch(/PLAYING/);
          expect(status.playback?.assetSha256, `${player.name} keeps playing A`).toBe(clipA.sha256);
          expect(await mediaFiles(player), `${player.name}: B never appears half-written under its name`).not.toContain(
            clipB.sha256,
          );
        }
        samples++;
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
      expect(
        await acked(publishedB),
        "only the simulated screen (it downloads nothing) acked B while the store was down",
      ).toBe(1);
      const failedDownloads = players.map(
        (p) => p.log.slice(logBefore[players.indexOf(p)]).filter((e) => e.msg === "reconcile failed").length,
      );
      for (const [i, failed] of failedDownloads.entries()) {
        expect(failed, `${players[i]?.name} tried to fetch B and failed`).toBeGreaterThan(0);
      }

      await s3.start();
      const back = Date.now();
      await waitUntil(
        async () => (await acked(publishedB)) === 2,
        300_000,
        async () => `B acked by ${await acked(publishedB)} / 2 after ${Date.now() - back} ms`,
      );
      const allAckedMs = Date.now() - back;
      for (const player of players) {
        expect(player.exited, `${player.name} never crashed`).toBe(false);
        const files = await mediaFiles(player);
        expect(files.sort(), `${player.name}: A and B, complete, nothing else`).toEqual(
          [clipA.sha256, clipB.sha256].sort(),
        );
        for (const name of files) {
          const bytes = await readFile(join(player.dataDir, "media", "v1", name));
          expect(createHash("sha256").update(bytes).digest("hex"), `${player.name}: ${name} is whole`).toBe(name);
        }
      }
      const retriesAfter = players.map(
        (p) => p.log.slice(logBefore[players.indexOf(p)]).filter((e) => e.msg === "reconcile failed").length,
      );
      console.log(
        `store outage ${outageMs / 1000} s with ${players.length} real player and 1 simulated screen (2 replicas): ` +
          `playback sampled ${samples} times per player, always PLAYING clip A; ` +
          `failed fetch attempts of B during the outage ${failedDownloads.join(" / ")} (total incl. after: ${retriesAfter.join(" / ")}); ` +
          `all screens acked the new version ${(allAckedMs / 1000).toFixed(1)} s after the store was back`,
      );
    } finally {
      for (const player of players) {
        if (!player.exited) {
          const exited = new Promise((resolve) => player.child.once("exit", resolve));
          player.child.kill("SIGTERM");
          await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
          if (!player.exited) player.child.kill("SIGKILL");
        }
      }
      await running?.close();
      running = undefined;
      await clips.remove();
      await s3.close();
      await rm(root, { recursive: true, force: true });
    }
  }, 600_000);
});
