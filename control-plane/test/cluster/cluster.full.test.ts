/**
 * Several control-plane processes behind HAProxy (`make cluster`), with simulated screens
 * streaming through the balancer: everything real (HAProxy, PostgreSQL, the control-plane
 * processes as main.ts runs them, the fleet simulator). Needs Debian's haproxy: `make test-full`.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { createS3BlobStore } from "../../src/core/content/index.ts";
import { findFreePort, startEmbeddedPostgres } from "../../src/platform/db/embedded-postgres.ts";
import { createClipFactory } from "../lib/clips.ts";
import { startS3Emulator } from "../lib/s3-emulator.ts";
import { uploadMessages } from "../lib/upload.ts";
import { type FleetOnCluster, startFleetOnCluster, waitUntil } from "./fleet-on-cluster.ts";

let running: FleetOnCluster | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** Screens whose stored applied version is the desired one published at or after `since`: they acked it. */
async function ackedCount(f: FleetOnCluster, since: Date): Promise<number> {
  const rows = await f.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM screen_status WHERE desired_at >= $1 AND applied_version = desired_version",
    [since],
  );
  return rows[0]?.n ?? 0;
}

/** Play events stored per screen (raw rows; the dedup key makes a resent event one row). */
async function storedPlays(f: FleetOnCluster): Promise<Map<string, number>> {
  const rows = await f.query<{ screen_id: string; n: number }>(
    "SELECT screen_id, count(*)::int AS n FROM play_events GROUP BY screen_id",
  );
  return new Map(rows.map((row) => [row.screen_id, row.n] as const));
}

/** True when both maps hold the same counts for the same keys (a key with 0 may be missing from either). */
function sameCounts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  for (const key of new Set([...a.keys(), ...b.keys()])) if ((a.get(key) ?? 0) !== (b.get(key) ?? 0)) return false;
  return true;
}

function sum(counts: ReadonlyMap<string, number>): number {
  return [...counts.values()].reduce((a, b) => a + b, 0);
}

async function succeededCount(f: FleetOnCluster, commandIds: string[]): Promise<number> {
  const rows = await f.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM commands WHERE id = ANY($1::uuid[]) AND status = $2",
    [commandIds, CommandStatus.SUCCEEDED],
  );
  return rows[0]?.n ?? 0;
}

describe("control planes behind HAProxy", () => {
  it("spreads screens across the replicas, and a publish and a command reach screens on every replica", async () => {
    const screens = 150;
    const f = await startFleetOnCluster({ replicas: 3, screens });
    running = f;
    const spread = await f.streamsPerReplica();
    console.log(`streams per replica: ${spread.join(" / ")} of ${screens}`);
    expect(spread.reduce((a, b) => a + b, 0)).toBe(screens);
    // leastconn: each of 3 replicas within a few screens of a third.
    for (const held of spread) expect(held).toBeGreaterThanOrEqual(screens / 3 - 10);

    const since = new Date();
    await f.changeContent(1);
    const published = await f.publish.publish({ targets: [] });
    expect(published.results.filter((r) => r.changed)).toHaveLength(screens);
    await waitUntil(
      async () => (await ackedCount(f, since)) === screens,
      30_000,
      async () => `${await ackedCount(f, since)} of ${screens} screens acked the publish`,
    );
    expect(f.sim.screens.every((s) => s.appliedVersion > 0n)).toBe(true);

    const sent = await f.fleet.sendCommand({ screenIds: f.screenIds, kind: CommandKind.IDENTIFY });
    const commandIds = sent.commands.map((c) => c.command?.commandId ?? "");
    expect(commandIds).toHaveLength(screens);
    await waitUntil(
      async () => (await succeededCount(f, commandIds)) === screens,
      30_000,
      async () => `${await succeededCount(f, commandIds)} of ${screens} screens answered the command`,
    );
  }, 240_000);

  it("survives kill -9 of a replica: its screens come back through the balancer spread out, nothing published or queued is lost", async () => {
    // AVTECH_CLUSTER_KILL_SCREENS sizes the fleet (default 600); the simulator then uses lean streams past 1000.
    const screens = Number(process.env.AVTECH_CLUSTER_KILL_SCREENS ?? 600);
    // Stable after 5 s instead of the player's 20 s, so the test need not wait that long before the kill;
    // the spread of the first retry (30 s) is the player's.
    const f = await startFleetOnCluster({
      replicas: 3,
      screens,
      reconnect: { stableMs: 5_000 },
      ...(screens > 1000 ? { streams: "lean" as const } : {}),
    });
    running = f;
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const before = await f.streamsPerReplica();
    const victimIndex = before.indexOf(Math.max(...before));
    const victim = f.cluster.replicas[victimIndex];
    if (!victim) throw new Error("no replica to kill");
    const held = before[victimIndex] ?? 0;
    console.log(`streams per replica before: ${before.join(" / ")}; killing ${victim.name} (${held} screens)`);
    const events = await f.balancerEvents();
    if (events.length > 0) console.log(`HAProxy before the kill:\n  ${events.join("\n  ")}`);

    // The fleet's recovery, polled every 100 ms; which screens reconnected, and when, the simulator records.
    const welcomesBefore = f.sim.screens.map((screen) => screen.welcomes);
    let allBackAt: number | undefined;
    let ninetyNineBackAt: number | undefined;
    let sawDrop = false;
    const killedAt = Date.now();
    const watcher = setInterval(() => {
      const connected = f.sim.stats().connected;
      if (connected < screens) sawDrop = true;
      if (!sawDrop) return;
      if (ninetyNineBackAt === undefined && connected >= 0.99 * screens) ninetyNineBackAt = Date.now() - killedAt;
      if (allBackAt === undefined && connected === screens) allBackAt = Date.now() - killedAt;
    }, 100);
    try {
      victim.process.kill("SIGKILL");
      await victim.process.exited;

      // During the outage: a publish that changes every screen, and a command to every screen (queued for
      // the screens that are away). Both calls go through the balancer to a surviving replica.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const since = new Date();
      await f.changeContent(2);
      const published = await f.publish.publish({ targets: [] });
      expect(published.results.filter((r) => r.changed)).toHaveLength(screens);
      // SendCommand takes at most 1000 screens a call.
      const commandIds: string[] = [];
      for (let from = 0; from < f.screenIds.length; from += 1000) {
        const sent = await f.fleet.sendCommand({
          screenIds: f.screenIds.slice(from, from + 1000),
          kind: CommandKind.IDENTIFY,
        });
        commandIds.push(...sent.commands.map((c) => c.command?.commandId ?? ""));
      }
      const awayWhenSent = screens - f.sim.stats().connected;

      await waitUntil(
        () => allBackAt !== undefined,
        200_000,
        () => `${f.sim.stats().connected} of ${screens} screens reconnected within 200 s`,
      );
      await waitUntil(
        async () => (await ackedCount(f, since)) === screens && (await succeededCount(f, commandIds)) === screens,
        60_000,
        async () =>
          `after reconnecting, ${await ackedCount(f, since)} of ${screens} acked the publish and ` +
          `${await succeededCount(f, commandIds)} answered the command`,
      );

      const reconnectedAt = f.sim.screens
        .filter((screen, index) => screen.welcomes > (welcomesBefore[index] ?? 0))
        .map((screen) => (screen.lastWelcomeAt ?? killedAt) - killedAt);
      const buckets = new Map<number, number>();
      for (const ms of reconnectedAt) buckets.set(Math.floor(ms / 1000), (buckets.get(Math.floor(ms / 1000)) ?? 0) + 1);
      const largest = Math.max(...buckets.values());
      const largestPercent = (100 * largest) / screens;
      const after = await f.streamsPerReplica();
      console.log(
        [
          `kill -9 of ${victim.name} holding ${held} of ${screens} screens (${((100 * held) / screens).toFixed(1)} %):`,
          `  screens that reconnected: ${reconnectedAt.length}`,
          `  largest one-second bucket of reconnects: ${largest} = ${largestPercent.toFixed(2)} % of the fleet (goal ≤ 5 %)`,
          `  reconnects per second after the kill: ${[...buckets.entries()]
            .sort(([a], [b]) => a - b)
            .map(([second, n]) => `${second}s:${n}`)
            .join(" ")}`,
          `  99 % of the fleet connected again after ${((ninetyNineBackAt ?? 0) / 1000).toFixed(1)} s, all after ${((allBackAt ?? 0) / 1000).toFixed(1)} s (goal: 99 % ≤ 180 s)`,
          `  publish during the outage: ${screens} of ${screens} acked; command to all (${awayWhenSent} away when sent): ${screens} of ${screens} answered`,
          `  streams per replica after: ${after.join(" / ")}`,
        ].join("\n"),
      );
      expect(reconnectedAt).toHaveLength(held);
      expect(awayWhenSent).toBeGreaterThan(0);
      expect(after[victimIndex]).toBe(0);
      expect(after.reduce((a, b) => a + b, 0)).toBe(screens);
      expect(largestPercent).toBeLessThanOrEqual(5);
      expect(ninetyNineBackAt).toBeLessThanOrEqual(180_000);
    } finally {
      clearInterval(watcher);
    }
  }, 420_000);

  it("shares media through the S3 store: a clip uploaded through the balancer is served to a screen by every replica; with the store down an upload fails cleanly", async () => {
    const s3 = await startS3Emulator();
    const clips = await createClipFactory();
    try {
      const s3Env = {
        AVTECH_BLOB_STORE: "s3",
        AVTECH_S3_ENDPOINT: s3.endpoint,
        AVTECH_S3_BUCKET: s3.bucket,
        AVTECH_S3_ACCESS_KEY_ID: "S3RVER",
        AVTECH_S3_SECRET_ACCESS_KEY: "S3RVER",
      };
      const f = await startFleetOnCluster({ replicas: 3, screens: 3, replicaEnv: s3Env });
      running = f;
      const clip = await clips.video("shared.mp4", { seconds: 2 });
      const uploaded = await f.content.uploadVideo(uploadMessages(clip, { fileName: "shared.mp4" }));
      const sha256 = uploaded.video?.sha256 ?? "";
      const bucket = createS3BlobStore({
        endpoint: s3.endpoint,
        region: "us-east-1",
        bucket: s3.bucket,
        accessKeyId: "S3RVER",
        secretAccessKey: "S3RVER",
        tempDir: clips.path("tmp"),
      });
      expect(await bucket.exists(sha256), "the blob is in the bucket").toBe(true);
      const token = f.sim.screens[0]?.credentials?.deviceToken ?? "";
      for (const replica of f.cluster.replicas) {
        const response = await fetch(`${replica.http1Url}/assets/${sha256}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(response.status, replica.name).toBe(200);
        const body = Buffer.from(await response.arrayBuffer());
        expect(createHash("sha256").update(body).digest("hex"), replica.name).toBe(sha256);
      }

      // The object store down: an upload fails with UNAVAILABLE and leaves nothing (no row, no object, no
      // temp file); the screens' streams are not touched; once it is back, the first clip is served again.
      await s3.stop();
      const other = await clips.video("while-down.mp4", { seconds: 3 });
      const refused = await f.content
        .uploadVideo(uploadMessages(other, { fileName: "while-down.mp4" }))
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.Unavailable);
      expect((await f.query<{ n: number }>("SELECT count(*)::int AS n FROM videos"))[0]?.n).toBe(1);
      expect(await readdir(join(f.blobDir, "tmp")), "no temp file left").toEqual([]);
      expect(f.sim.stats().connected).toBe(3);
      await s3.start();
      const otherSha = createHash("sha256")
        .update(await readFile(other))
        .digest("hex");
      expect(await bucket.exists(otherSha), "nothing of the refused upload in the bucket").toBe(false);
      const again = await fetch(`${f.cluster.frontUrl}/assets/${sha256}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(again.status).toBe(200);
    } finally {
      await running?.close();
      running = undefined;
      await clips.remove();
      await s3.close();
    }
  }, 240_000);

  it("loses no publish when every replica's LISTEN connection is cut: they listen again and re-read", async () => {
    const screens = 150;
    const f = await startFleetOnCluster({ replicas: 3, screens });
    running = f;
    const listeners = async () =>
      (
        await f.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = $1",
          ["LISTEN avtech_screen_wakeup"],
        )
      ).map((row) => row.pid);
    const cut = await listeners();
    expect(cut).toHaveLength(3);
    await f.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [cut]);
    // Published at once: the wake-ups for screens on the other replicas are sent while nobody listens.
    const since = new Date();
    await f.changeContent(1);
    const listeningAtPublish = (await listeners()).length;
    await f.publish.publish({ targets: [] });
    console.log(`LISTEN cut on 3 replicas; ${listeningAtPublish} of 3 listening again when the publish was sent`);
    await waitUntil(
      async () => (await ackedCount(f, since)) === screens,
      30_000,
      async () => `${await ackedCount(f, since)} of ${screens} screens acked a publish made while LISTEN was cut`,
    );
    const again = await listeners();
    expect(again).toHaveLength(3);
    expect(again.filter((pid) => cut.includes(pid))).toEqual([]);
    expect(f.sim.stats().connected, "streams stayed up").toBe(screens);
  }, 240_000);

  it("acks a publish on every screen while every replica is restarted in turn (drained, then started again)", async () => {
    const screens = 150;
    const f = await startFleetOnCluster({ replicas: 3, screens });
    running = f;
    const since = new Date();
    const started = Date.now();
    await f.changeContent(1);
    const publishing = f.publish.publish({ targets: [] });
    for (const { name } of [...f.cluster.replicas]) {
      await f.cluster.restartReplica(name);
      // HAProxy takes it back after two passing checks, 1 s apart.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
    }
    const restartedAfter = Date.now() - started;
    const published = await publishing;
    expect(published.results.filter((r) => r.changed)).toHaveLength(screens);
    await waitUntil(
      async () => (await ackedCount(f, since)) === screens && f.sim.stats().connected === screens,
      180_000,
      async () =>
        `${await ackedCount(f, since)} of ${screens} acked and ${f.sim.stats().connected} connected after the rolling restart`,
    );
    const spread = await f.streamsPerReplica();
    console.log(
      `rolling restart of 3 replicas took ${(restartedAfter / 1000).toFixed(1)} s; all ${screens} screens acked ` +
        `and connected ${((Date.now() - started) / 1000).toFixed(1)} s after the publish; streams per replica after: ${spread.join(" / ")}`,
    );
    expect(spread.reduce((a, b) => a + b, 0)).toBe(screens);
  }, 300_000);

  it("keeps streams up while PostgreSQL restarts; heartbeats and play events sent during the outage are stored, each play once; a publish after it reaches every screen", async () => {
    const screens = 150;
    const root = await mkdtemp(join(tmpdir(), "avtech-pg-restart-"));
    const port = await findFreePort();
    const dataDir = join(root, "data");
    let postgres = await startEmbeddedPostgres({ dataDir, port });
    try {
      const f = await startFleetOnCluster({
        replicas: 3,
        screens,
        postgresAdminUrl: postgres.url,
        // Heartbeats every 5 s (the shortest interval players take) and 1 s clips reported every 2 s:
        // every screen writes both several times while PostgreSQL is down.
        // A health sample per heartbeat, so heartbeats handled during the PostgreSQL outage leave samples to count.
        replicaEnv: { AVTECH_HEARTBEAT_INTERVAL_SECONDS: "5", AVTECH_HEALTH_SAMPLE_SECONDS: "5" },
        plays: {
          clips: [1, 2].map((n) => ({
            videoId: randomUUID(),
            playlistId: randomUUID(),
            sha256: createHash("sha256").update(`clip ${n}`).digest("hex"),
          })),
          clipMs: 1_000,
          batchMs: 2_000,
        },
      });
      running = f;
      const screenIdOf = new Map(f.sim.screens.map((s) => [s.credentials?.deviceId ?? "", s]));
      f.sim.startPlays();
      // Plays flowing into the store before the outage.
      await waitUntil(
        async () => (await storedPlays(f)).size === screens,
        30_000,
        async () => `${(await storedPlays(f)).size} of ${screens} screens had a play stored before the outage`,
      );
      const sentBefore = f.sim.stats().playEventsSent;
      const stoppedAt = new Date();
      await postgres.stop();
      // Down for a while under heartbeats and plays, with a call that needs the database.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const refused = await f.fleet.listScreens({}).catch((error: unknown) => error);
      const connectedDuringOutage = f.sim.stats().connected;
      // What the screens sent is fixed from here: everything sent is then expected in the store exactly once.
      f.sim.stopPlays();
      const sentDuringOutage = f.sim.stats().playEventsSent - sentBefore;
      postgres = await startEmbeddedPostgres({ dataDir, port });
      const backAt = new Date();
      const downMs = backAt.getTime() - stoppedAt.getTime();

      // Play events the replicas held (their writes failed) are retried: wait until each screen has
      // exactly what it sent. More than sent would be a duplicate; the wait would then time out.
      const sentPerScreen = () => new Map([...screenIdOf].map(([id, screen]) => [id, screen.playEventsSent] as const));
      await waitUntil(
        async () => sameCounts(await storedPlays(f), sentPerScreen()),
        120_000,
        async () =>
          `${sum(await storedPlays(f))} of ${f.sim.stats().playEventsSent} play events stored ` +
          `${((Date.now() - backAt.getTime()) / 1000).toFixed(0)} s after PostgreSQL was back`,
      );
      const drainMs = Date.now() - backAt.getTime();
      // Heartbeats: every screen's last_seen_at moves past the outage's end (its streams' heartbeats,
      // held behind the play writes, are handled and flushed), and the health samples of heartbeats
      // handled during the outage (their flushes failed and were put back) are stored.
      const seenAfter = async () =>
        (
          await f.query<{ n: number }>("SELECT count(*)::int AS n FROM screen_status WHERE last_seen_at > $1", [backAt])
        )[0]?.n ?? 0;
      await waitUntil(
        async () => (await seenAfter()) === screens,
        60_000,
        async () => `${await seenAfter()} of ${screens} screens seen after PostgreSQL was back`,
      );
      const seenAfterMs = Date.now() - backAt.getTime();

      // The replicas' pools and LISTEN connections come back on their own; give them their backoff.
      const since = new Date();
      let published = false;
      await waitUntil(
        async () => {
          if (!published) {
            await f.changeContent(1).catch(() => undefined);
            published = await f.publish.publish({ targets: [] }).then(
              () => true,
              () => false,
            );
          }
          return published && (await ackedCount(f, since)) === screens;
        },
        120_000,
        async () =>
          `${published ? await ackedCount(f, since) : 0} of ${screens} acked a publish after PostgreSQL came back`,
      );
      const ackedAfterMs = Date.now() - backAt.getTime();

      const stored = await storedPlays(f);
      const rolledUp = new Map(
        (
          await f.query<{ screen_id: string; n: number }>(
            "SELECT screen_id, sum(plays)::int AS n FROM play_screen_hourly GROUP BY screen_id",
          )
        ).map((row) => [row.screen_id, row.n] as const),
      );
      const storedAfterRestart =
        (
          await f.query<{ n: number }>("SELECT count(*)::int AS n FROM play_events WHERE received_at >= $1", [backAt])
        )[0]?.n ?? 0;
      const samplesDuringOutage =
        (
          await f.query<{ n: number }>("SELECT count(*)::int AS n FROM health_samples WHERE at >= $1 AND at < $2", [
            stoppedAt,
            backAt,
          ])
        )[0]?.n ?? 0;
      const failedPlayWrites = (await f.replicaLogLines("play event write failed")).length;
      const failedFlushes = (await f.replicaLogLines("heartbeat flush failed")).length;
      console.log(
        [
          `PostgreSQL down ${(downMs / 1000).toFixed(1)} s under 3 replicas and ${screens} screens:`,
          `  a call needing it during the outage: ${refused instanceof Error ? refused.message : "answered"}`,
          `  streams up during the outage: ${connectedDuringOutage} of ${screens}; after: ${f.sim.stats().connected}; ` +
            `reconnects: ${f.sim.screens.filter((s) => s.welcomes > 1).length}`,
          `  play events sent during the outage: ${sentDuringOutage}; ${f.sim.stats().playEventsSent} sent in all, ` +
            `${sum(stored)} stored (${storedAfterRestart} written after the restart), ${sum(rolledUp)} counted in the rollups; ` +
            `all stored ${(drainMs / 1000).toFixed(1)} s after PostgreSQL was back`,
          `  failed writes logged by the replicas: ${failedPlayWrites} play event writes, ${failedFlushes} heartbeat flushes`,
          `  health samples of heartbeats handled during the outage, stored after it: ${samplesDuringOutage}; ` +
            `every screen's last_seen_at past the outage's end ${(seenAfterMs / 1000).toFixed(1)} s after it`,
          `  publish after the restart acked by ${screens} of ${screens} ${(ackedAfterMs / 1000).toFixed(1)} s after PostgreSQL was back`,
        ].join("\n"),
      );
      expect(refused).toBeInstanceOf(Error);
      expect(connectedDuringOutage).toBe(screens);
      expect(f.sim.stats().connected).toBe(screens);
      expect(
        f.sim.screens.every((s) => s.welcomes === 1),
        "no stream dropped",
      ).toBe(true);
      expect(sentDuringOutage).toBeGreaterThan(0);
      // Each screen's plays once in the raw table and once in the rollups, however often a write was retried.
      expect(stored).toEqual(sentPerScreen());
      expect(rolledUp).toEqual(stored);
      expect(storedAfterRestart).toBeGreaterThan(0);
      expect(samplesDuringOutage).toBeGreaterThan(0);
      // The failed writes were reported, not swallowed.
      expect(failedPlayWrites).toBeGreaterThan(0);
    } finally {
      await running?.close();
      running = undefined;
      await postgres.stop();
      await rm(root, { recursive: true, force: true });
    }
  }, 360_000);
});
