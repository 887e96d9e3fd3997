/**
 * The backup and restore drill (`make test-full`): the control_plane role's avtech-cp-backup and
 * avtech-cp-restore, rendered by ansible from the role's templates and run as they run on a host
 * (as root, pg_dump/pg_restore as `postgres` through peer authentication, rsync), against a
 * populated control plane: the demo tenant's clips, playlists and dayparts, and simulated screens
 * that acked a publish. Then everything is wiped (the database dropped, its PostgreSQL data folder
 * and the blob folder deleted) and restored on a fresh instance: a new PostgreSQL data folder
 * prepared as the role prepares one, a control plane that migrated the empty database (as the
 * playbook leaves a new host), the restore script, a new server process. Checked: the same row
 * count and md5 of the ordered rows in every table, every blob present with its sha256, and the
 * same simulated screens back on their device tokens, synced, with no new registration.
 *
 * Measured and printed (and written to test-artifacts/backup-drill.json): backup and restore of the
 * demo data, and of a 10 GiB blob store made of sparse files, plus 1 GiB of random data through the
 * same scripts for what the disk itself costs.
 *
 * systemctl: the restore script stops and starts avtech-control-plane.service. Here a stand-in on
 * PATH records each call; `stop` ends the control-plane process the drill started (its pid in a
 * file), and `start` is only recorded: the drill reads the restored tables first and then starts
 * the new server itself.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bearerToken, findFreePort } from "@avtech/control-plane";
import { type FleetSimulator, startFleetSimulator } from "@avtech/fleet-sim";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { ScheduleService } from "@avtech/proto/gen/avtech/schedule/v1/schedule_pb.js";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { populateDemoContent } from "../lib/demo-data.ts";
import {
  blobDigests,
  type ControlPlaneProcess,
  type DebianPostgres,
  diskUsage,
  mustRun,
  readIfExists,
  renderRoleTemplate,
  repoDir,
  runProgram,
  startControlPlaneProcess,
  startDebianPostgres,
  tableChecksums,
} from "../lib/ops-fixtures.ts";

const screens = 20;
const db = { name: "avtech", user: "avtech", password: randomBytes(12).toString("hex") };
const figures: Record<string, number | string> = {};
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const step of cleanups.reverse()) await step().catch(() => undefined);
});

async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  figures[name] = Math.round(performance.now() - started) / 1000;
  return result;
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("backup and restore drill (control_plane role scripts)", () => {
  it("restores a wiped control plane on a fresh instance: same tables, every blob, screens back on their tokens", async () => {
    const work = await mkdtemp(join(tmpdir(), "avtech-drill-"));
    // PostgreSQL runs as `postgres`, which must reach its data folder inside.
    await chmod(work, 0o755);
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    const bin = join(work, "bin");
    const live = { blobDir: join(work, "live/blobs"), backupDir: join(work, "backups") };
    await mkdir(bin, { recursive: true });
    await mkdir(live.blobDir, { recursive: true });

    // The role's scripts, rendered by ansible with this drill's folders.
    const roleVars = (blobDir: string, backupDir: string) => ({
      avtech_cp_blob_dir: blobDir,
      avtech_cp_backup_dir: backupDir,
      avtech_cp_backup_log: join(work, "backup.log"),
      avtech_cp_db_name: db.name,
      avtech_cp_db_user: db.user,
      avtech_cp_user: "root",
    });
    await renderRoleTemplate(
      "avtech-cp-backup.j2",
      join(bin, "avtech-cp-backup"),
      roleVars(live.blobDir, live.backupDir),
    );
    await renderRoleTemplate(
      "avtech-cp-restore.j2",
      join(bin, "avtech-cp-restore"),
      roleVars(live.blobDir, live.backupDir),
    );
    const systemctlLog = join(work, "systemctl.log");
    const pidFile = join(work, "control-plane.pid");
    await writeFile(
      join(bin, "systemctl"),
      `#!/bin/sh
# The drill's systemctl (see the test's header): records the call; stop ends the control plane in the pid file.
echo "$*" >>"${systemctlLog}"
if [ "$1" = stop ] && [ -s "${pidFile}" ]; then
  pid=$(cat "${pidFile}")
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "${pidFile}"
fi
`,
      { mode: 0o755 },
    );

    const pgPort = await findFreePort();
    const grpcPort = await findFreePort();
    const httpPort = await findFreePort();
    const databaseUrl = `postgres://${db.user}:${db.password}@127.0.0.1:${pgPort}/${db.name}`;
    const serverEnv = {
      DATABASE_URL: databaseUrl,
      AVTECH_HOST: "127.0.0.1",
      AVTECH_PORT: String(grpcPort),
      AVTECH_HTTP1_PORT: String(httpPort),
      AVTECH_BLOB_DIR: live.blobDir,
      LOG_LEVEL: "warn",
    };
    const readyUrl = `http://127.0.0.1:${httpPort}/readyz`;
    const startServer = async (name: string) => {
      const server = await startControlPlaneProcess({ env: serverEnv, logFile: join(work, `${name}.log`), readyUrl });
      cleanups.push(() => server.stop());
      await writeFile(pidFile, String(server.pid));
      return server;
    };
    const admin = (...args: string[]) =>
      runProgram(process.execPath, [join(repoDir, "control-plane/src/cli.ts"), "admin", ...args], {
        env: { DATABASE_URL: databaseUrl, AVTECH_BLOB_DIR: live.blobDir, LOG_LEVEL: "warn" },
      });
    const scriptEnv = (pg: DebianPostgres) => ({
      PATH: `${bin}:${process.env.PATH}`,
      PGHOST: pg.socketDir,
      PGPORT: String(pg.port),
      ...serverEnv,
    });

    // 1. A populated control plane: the role's database set-up, the demo content, screens that acked a publish.
    let pg = await startDebianPostgres(join(work, "pg-1"), pgPort);
    cleanups.push(() => pg.stop());
    await pg.createAppDatabase(db.user, db.password, db.name);
    let server: ControlPlaneProcess = await startServer("control-plane-1");
    expect((await admin("create-tenant", "--slug", "demo", "--name", "Demo Coffee Co.")).code).toBe(0);
    const token = await admin("create-api-token", "--tenant", "demo", "--name", "drill", "--role", "admin");
    const secret = token.stdout.trim().split("\n").at(-1) as string;
    const transport = createGrpcTransport({
      baseUrl: `http://127.0.0.1:${grpcPort}`,
      interceptors: [bearerToken(secret)],
    });
    await populateDemoContent(transport, join(repoDir, "test-artifacts/demo-clips"));
    const fleet = createClient(FleetService, transport);
    const publish = createClient(PublishService, transport);
    const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "drill screens" });
    const simulator: FleetSimulator = await startFleetSimulator({
      baseUrl: `http://127.0.0.1:${grpcPort}`,
      count: screens,
      enrollmentKey,
      hardwareIdPrefix: "drill",
      heartbeatIntervalMs: 5_000,
    });
    cleanups.unshift(() => simulator.stop());
    await simulator.whenConnected(60_000);
    const { results } = await publish.publish({});
    expect(results).toHaveLength(screens);
    await eventually(() => simulator.screens.every((s) => s.appliedVersion === 1n), 30_000, "every screen acked v1");
    await eventually(
      async () => (await admin("publish", "status", "--tenant", "demo")).stdout.includes(`${screens} synced`),
      30_000,
      "the control plane records every ack",
    );
    // A blob no row names (a deleted clip's file copied by the first pass, or a crash's left-over).
    const orphan = createHash("sha256").update("no row names this").digest("hex");
    await mkdir(join(live.blobDir, "sha256", orphan.slice(0, 2), orphan.slice(2, 4)), { recursive: true });
    await writeFile(join(live.blobDir, "sha256", orphan.slice(0, 2), orphan.slice(2, 4), orphan), "no row names this");

    // 2. Backups: one while the control plane serves the streaming screens, one after it stopped.
    const online = await timed("backup demo data, online, first set (s)", () =>
      runProgram(join(bin, "avtech-cp-backup"), [], { env: scriptEnv(pg) }),
    );
    expect(online.code, online.stderr).toBe(0);
    expect(online.stdout).toMatch(
      /backup .*: dump \d+ bytes, \d+ blobs \(\d+ copied, the rest linked to no previous set\)/,
    );
    await server.stop();
    const down = Date.now();
    await eventually(() => simulator.stats().connected === 0, 10_000, "the screens notice the server is gone");
    const before = await tableChecksums(pg, db.name);
    const blobsBefore = await blobDigests(live.blobDir);
    const registeredBefore = simulator.stats().registered;
    const statesBefore = simulator.stats().desiredStatesReceived;
    const offline = await timed("backup demo data, second set (s)", () =>
      runProgram(join(bin, "avtech-cp-backup"), [], { env: scriptEnv(pg) }),
    );
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/\d+ blobs \(0 copied, the rest linked to .*Z\)/);
    const sets = (await readdir(live.backupDir)).filter((name) => /^\d{8}T\d{6}Z$/.test(name)).sort();
    expect(sets).toHaveLength(2);
    const set = join(live.backupDir, sets[1] as string);
    figures["demo dump (bytes)"] = (await stat(join(set, "avtech.dump"))).size;
    figures["demo blobs (files)"] = blobsBefore.size;
    figures["demo blobs (bytes)"] = (await diskUsage(join(live.blobDir, "sha256"))).apparentBytes;

    // 3. Wipe: drop the database, delete the PostgreSQL data folder and the blob folder.
    await pg.psql(`DROP DATABASE ${db.name} WITH (FORCE)`);
    await pg.stop();
    await rm(join(work, "pg-1"), { recursive: true, force: true });
    await rm(live.blobDir, { recursive: true, force: true });
    await mkdir(live.blobDir, { recursive: true });

    // 4. A fresh instance as the playbook leaves it: new data folder, role and empty database, a control
    // plane that migrated it. Then the restore script, and the tables read before the new server starts.
    pg = await startDebianPostgres(join(work, "pg-2"), pgPort);
    await pg.createAppDatabase(db.user, db.password, db.name);
    server = await startServer("control-plane-2");
    const restore = await timed("restore demo data (s)", () =>
      runProgram(join(bin, "avtech-cp-restore"), [set], { env: scriptEnv(pg) }),
    );
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(await server.exited).toBe(0);
    expect((await readIfExists(systemctlLog)).trim().split("\n")).toEqual([
      "stop avtech-control-plane.service",
      "start avtech-control-plane.service",
    ]);
    const after = await tableChecksums(pg, db.name);
    expect(after).toEqual(before);
    expect(Object.keys(after).length).toBeGreaterThan(15);
    expect(after.videos?.rows).toBe(5);
    expect(after.screens?.rows).toBe(screens);
    const blobsAfter = await blobDigests(live.blobDir);
    expect([...blobsAfter.keys()].sort()).toEqual([...blobsBefore.keys()].sort());
    for (const [name, digest] of blobsAfter) expect(digest).toBe(name);
    expect(blobsAfter.has(orphan)).toBe(true);

    // 5. The new server process: the same screens come back on their own tokens and stay synced.
    const restarted = Date.now();
    server = await startServer("control-plane-3");
    figures["control plane down, old server stopped → new server ready (s)"] = (Date.now() - down) / 1000;
    await simulator.whenConnected(360_000);
    figures["screens back after the new server started (s)"] = (Date.now() - restarted) / 1000;
    expect(simulator.stats().registered).toBe(registeredBefore);
    expect(simulator.stats().desiredStatesReceived).toBe(statesBefore);
    expect(await pg.psql("select count(*) from pairing_codes", db.name)).toBe("0\n");
    const status = await admin("publish", "status", "--tenant", "demo", "--json");
    const report = JSON.parse(status.stdout) as { counts: Record<string, number> };
    expect(report.counts).toEqual({ synced: screens, pending: 0, failed: 0, "never-published": 0, ahead: 0 });
    const check = await admin("blobs", "check", "--verify");
    expect(check.stdout).toContain("referenced 10 blobs");
    expect(check.stdout).toContain("unreferenced 1 files");
    expect(check.code).toBe(0);
    // And they follow the next publish.
    const schedule = createClient(ScheduleService, transport);
    const { playlists } = await schedule.listPlaylists({});
    await schedule.setDefaultPlaylist({
      target: { kind: { case: "wholeTenant", value: true } },
      playlistId: playlists.find((p) => p.name === "Lunch")?.id ?? "",
    });
    const next = await publish.publish({});
    expect(next.results.every((r) => r.version === 2n)).toBe(true);
    await eventually(() => simulator.screens.every((s) => s.appliedVersion === 2n), 30_000, "every screen acks v2");
    await simulator.stop();
    await server.stop();

    // 6. Time with a 10 GiB blob store: 80 clips of 128 MiB, each a random 64 KiB head and a hole.
    const big = {
      blobDir: join(work, "big/blobs"),
      backupDir: join(work, "big/backups"),
      restoredDir: join(work, "big/restored"),
    };
    const made = await makeSparseBlobs(big.blobDir, 80, 128 * 1024 * 1024);
    figures["10 GiB store: apparent / allocated (bytes)"] = `${made.apparentBytes} / ${made.allocatedBytes}`;
    await renderRoleTemplate("avtech-cp-backup.j2", join(bin, "big-backup"), roleVars(big.blobDir, big.backupDir));
    await renderRoleTemplate(
      "avtech-cp-restore.j2",
      join(bin, "big-restore"),
      roleVars(big.restoredDir, big.backupDir),
    );
    for (const [name, label] of [
      ["first", "backup 10 GiB sparse store, first set (s)"],
      ["second", "backup 10 GiB sparse store, second set (s)"],
    ] as const) {
      const run = await timed(label, () => runProgram(join(bin, "big-backup"), [], { env: scriptEnv(pg) }));
      expect(run.code, `${name}: ${run.stderr}`).toBe(0);
    }
    const bigSets = (await readdir(big.backupDir)).filter((name) => /Z$/.test(name)).sort();
    await writeFile(pidFile, "");
    const bigRestore = await timed("restore 10 GiB sparse store (s)", () =>
      runProgram(join(bin, "big-restore"), [join(big.backupDir, bigSets.at(-1) as string)], { env: scriptEnv(pg) }),
    );
    expect(bigRestore.code, bigRestore.stderr).toBe(0);
    const restoredBig = await timed("sha256 of the restored 10 GiB (s)", () => blobDigests(big.restoredDir));
    expect(restoredBig.size).toBe(80);
    for (const [name, digest] of restoredBig) expect(digest).toBe(name);
    await rm(join(work, "big"), { recursive: true, force: true });

    // 7. What the disk costs: 1 GiB of random data (nothing sparse) through the same scripts.
    const dense = {
      blobDir: join(work, "dense/blobs"),
      backupDir: join(work, "dense/backups"),
      restoredDir: join(work, "dense/restored"),
    };
    await makeRandomBlobs(dense.blobDir, 8, 128 * 1024 * 1024);
    await renderRoleTemplate(
      "avtech-cp-backup.j2",
      join(bin, "dense-backup"),
      roleVars(dense.blobDir, dense.backupDir),
    );
    await renderRoleTemplate(
      "avtech-cp-restore.j2",
      join(bin, "dense-restore"),
      roleVars(dense.restoredDir, dense.backupDir),
    );
    const denseBackup = await timed("backup 1 GiB random data, first set (s)", () =>
      runProgram(join(bin, "dense-backup"), [], { env: scriptEnv(pg) }),
    );
    expect(denseBackup.code, denseBackup.stderr).toBe(0);
    const denseSet = (await readdir(dense.backupDir)).filter((name) => /Z$/.test(name))[0] as string;
    const denseRestore = await timed("restore 1 GiB random data (s)", () =>
      runProgram(join(bin, "dense-restore"), [join(dense.backupDir, denseSet)], { env: scriptEnv(pg) }),
    );
    expect(denseRestore.code, denseRestore.stderr).toBe(0);
    await mustRun("sync", []);

    await mkdir(join(repoDir, "test-artifacts"), { recursive: true });
    await writeFile(join(repoDir, "test-artifacts/backup-drill.json"), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(
      `backup drill (PostgreSQL ${pg.version}, ${screens} simulated screens):\n${Object.entries(figures)
        .map(([name, value]) => `  ${name}: ${value}`)
        .join("\n")}`,
    );
  }, 1_800_000);
});

/** `count` files of `size` bytes, each a random 64 KiB head followed by a hole, named by their sha256. */
async function makeSparseBlobs(blobDir: string, count: number, size: number) {
  const zeros = Buffer.alloc(4 << 20);
  for (let i = 0; i < count; i++) {
    const head = randomBytes(64 * 1024);
    const hash = createHash("sha256").update(head);
    for (let at = head.length; at < size; at += zeros.length)
      hash.update(zeros.subarray(0, Math.min(zeros.length, size - at)));
    await placeBlob(blobDir, hash.digest("hex"), async (file) => {
      await file.write(head, 0, head.length, 0);
      await file.truncate(size);
    });
  }
  return diskUsage(blobDir);
}

/** `count` files of `size` random bytes, named by their sha256. */
async function makeRandomBlobs(blobDir: string, count: number, size: number) {
  for (let i = 0; i < count; i++) {
    const chunks = Array.from({ length: size / (8 << 20) }, () => randomBytes(8 << 20));
    const hash = createHash("sha256");
    for (const chunk of chunks) hash.update(chunk);
    await placeBlob(blobDir, hash.digest("hex"), async (file) => {
      let at = 0;
      for (const chunk of chunks) {
        await file.write(chunk, 0, chunk.length, at);
        at += chunk.length;
      }
      await file.sync();
    });
  }
}

async function placeBlob(
  blobDir: string,
  sha256: string,
  fill: (file: Awaited<ReturnType<typeof open>>) => Promise<void>,
) {
  const folder = join(blobDir, "sha256", sha256.slice(0, 2), sha256.slice(2, 4));
  await mkdir(folder, { recursive: true });
  const file = await open(join(folder, sha256), "w");
  try {
    await fill(file);
  } finally {
    await file.close();
  }
}
