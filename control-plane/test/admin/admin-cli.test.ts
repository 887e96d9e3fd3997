/**
 * The admin CLI's fleet commands against the real control plane (assembleControlPlane on the test
 * PostgreSQL) with real device streams: simulated screens that ack, one hand-driven screen that
 * reports a failed sync, and one enrolled screen that never connected. Commands run in-process
 * through `runAdminCli` (the function `cli.ts` runs) and, for the exit codes, as the real process.
 */
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { type FleetSimulator, startFleetSimulator } from "@avtech/fleet-sim";
import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { DeviceService, SyncFailureReason } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runAdminCli } from "../../src/admin/index.ts";
import { bearerToken } from "../../src/platform/auth/bearer.ts";
import { type ClipFactory, createClipFactory } from "../lib/clips.ts";
import { eventually, openStream, type TestStream } from "../lib/fleet-device.ts";
import { type RealControlPlane, startRealControlPlane } from "../lib/real-control-plane.ts";
import { uploadMessages } from "../lib/upload.ts";

const execFileAsync = promisify(execFile);
const cliPath = join(import.meta.dirname, "../../src/cli.ts");

let cp: RealControlPlane;
let simulator: FleetSimulator;
let clips: ClipFactory;
let failing: { id: string; stream: TestStream };
let neverConnected: string;
let simulated: string[];
let tenant: string;

/** Runs `control-plane admin <args>` in-process against the test control plane's database. */
async function admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runAdminCli(args, {
    env: cliEnv(),
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

function cliEnv(): Record<string, string> {
  return { DATABASE_URL: cp.databaseUrl, AVTECH_BLOB_DIR: cp.blobDir, LOG_LEVEL: "silent" };
}

beforeAll(async () => {
  cp = await startRealControlPlane({ postgresAdminUrl: inject("postgresAdminUrl") });
  tenant = cp.tenant.slug;
  clips = await createClipFactory();
  const transport = createGrpcTransport({ baseUrl: cp.addresses.http2Url, interceptors: [bearerToken(cp.adminToken)] });
  const content = createClient(ContentService, transport);
  const fleet = createClient(FleetService, transport);
  const clip = await clips.video("clip.mp4", { seconds: 2 });
  await content.uploadVideo(uploadMessages(clip, { fileName: "clip.mp4", name: "Clip" }));

  const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "admin cli test" });
  simulator = await startFleetSimulator({
    baseUrl: cp.addresses.http2Url,
    count: 2,
    enrollmentKey,
    hardwareIdPrefix: "sim",
  });
  await simulator.whenConnected(15_000);

  const device: Client<typeof DeviceService> = createClient(
    DeviceService,
    createGrpcTransport({ baseUrl: cp.addresses.http2Url }),
  );
  const enroll = async (hardwareId: string) => {
    const response = await device.register({ hardwareId, enrollmentKey, facts: { hostname: hardwareId } });
    if (response.outcome.case !== "enrolled") throw new Error("expected enrollment");
    return response.outcome.value;
  };
  const failingCredentials = await enroll("pi-failing");
  neverConnected = (await enroll("pi-never-connected")).deviceId;
  failing = { id: failingCredentials.deviceId, stream: openStream(device, failingCredentials.deviceToken) };
  expect((await failing.stream.next()).message.case).toBe("welcome");

  const { screens } = await fleet.listScreens({});
  simulated = screens.filter((screen) => screen.hardwareId.startsWith("sim-")).map((screen) => screen.id);
  await createClient(PublishService, transport).publish({});
  const desired = await failing.stream.next();
  if (desired.message.case !== "desiredState") throw new Error(`expected a desired state, got ${desired.message.case}`);
  failing.stream.send({
    case: "syncReport",
    value: {
      version: desired.message.value.version,
      result: {
        case: "failed",
        value: { reason: SyncFailureReason.DOWNLOAD_FAILED, message: "connection reset while downloading" },
      },
    },
  });
  await eventually(async () => (await admin("publish", "status", "--tenant", tenant)).stdout.includes("1 failed"));
  await eventually(async () => (await admin("publish", "status", "--tenant", tenant)).stdout.includes("2 synced"));
}, 120_000);

afterAll(async () => {
  failing?.stream.hangUp();
  await simulator?.stop();
  await cp?.close();
  await clips?.remove();
});

describe("admin screens", () => {
  it("lists every screen with its connection, last seen and sync", async () => {
    const { code, stdout } = await admin("screens", "--tenant", tenant);
    expect(code).toBe(0);
    for (const id of [...simulated, failing.id, neverConnected]) expect(stdout).toContain(id);
    expect(stdout).toMatch(
      new RegExp(`${neverConnected}\\s+pi-never-connected\\s+never-connected\\s+never\\s+pending`),
    );
    expect(stdout).toMatch(
      new RegExp(`${failing.id}\\s+pi-failing\\s+online\\s+\\S+ \\(\\d+ s ago\\)\\s+failed\\s+0/1`),
    );
    expect(stdout).toContain("4 screens");
  });

  it("filters offline screens by how long they have been offline", async () => {
    const offline = await admin("screens", "--tenant", tenant, "--status", "offline", "--json");
    expect(offline.code).toBe(0);
    expect(JSON.parse(offline.stdout).map((s: { id: string }) => s.id)).toEqual([neverConnected]);
    const longer = await admin("screens", "--tenant", tenant, "--status", "offline", "--since", "10m");
    expect(longer.code).toBe(0);
    expect(longer.stdout).toContain("0 screens");
    const shorter = await admin("screens", "--tenant", tenant, "--status", "offline", "--since", "1s");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const after = await admin("screens", "--tenant", tenant, "--status", "offline", "--since", "1s");
    expect(shorter.code + after.code).toBe(0);
    expect(after.stdout).toContain(neverConnected);
  });

  it("filters by sync status and shows the failure the screen reported", async () => {
    const failed = await admin("screens", "--tenant", tenant, "--status", "failed", "--json");
    const rows = JSON.parse(failed.stdout) as Array<{ id: string; syncError: string; sync: string }>;
    expect(rows).toEqual([
      expect.objectContaining({
        id: failing.id,
        sync: "failed",
        syncError: "DOWNLOAD_FAILED: connection reset while downloading",
      }),
    ]);
    const online = await admin("screens", "--tenant", tenant, "--status", "online", "--json");
    expect(
      JSON.parse(online.stdout)
        .map((s: { id: string }) => s.id)
        .sort(),
    ).toEqual([...simulated, failing.id].sort());
  });

  it("filters by disk use from the last heartbeat", async () => {
    type Listed = { id: string; diskUsedBytes: number | null; diskTotalBytes: number | null };
    let withDisk: Listed[] = [];
    // Heartbeats reach the database in the write-behind flush; wait for it rather than assume it ran.
    await eventually(async () => {
      const all = JSON.parse((await admin("screens", "--tenant", tenant, "--json")).stdout) as Listed[];
      withDisk = all.filter((s) => s.diskTotalBytes);
      return withDisk.length > 0;
    }, 30_000);
    const full = await admin("screens", "--tenant", tenant, "--disk-used-above", "0", "--json");
    expect(
      JSON.parse(full.stdout)
        .map((s: { id: string }) => s.id)
        .sort(),
    ).toEqual(withDisk.map((s) => s.id).sort());
    const none = await admin("screens", "--tenant", tenant, "--disk-used-above", "100%");
    expect(none.stdout).toContain("0 screens");
  });

  it("refuses bad input with exit code 2 and a message that says what to fix", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["screens", "--tenant", "no-such-tenant"], new RegExp(`no tenant "no-such-tenant"; tenants: .*${tenant}`)],
      [
        ["screens", "--tenant", tenant, "--status", "offline", "--since", "ten minutes"],
        /--since "ten minutes" is not a duration/,
      ],
      [
        ["screens", "--tenant", tenant, "--status", "sleeping"],
        /--status must be one of offline, online, pending, failed/,
      ],
      [
        ["screens", "--tenant", tenant, "--status", "online", "--since", "5m"],
        /--since applies to --status offline, pending and failed/,
      ],
      [["screens", "--tenant", tenant, "--since", "5m"], /--since needs --status/],
      [["screens", "--tenant", tenant, "--disk-used-above", "150"], /percentage 0..100/],
      [["screens", "--tenant", tenant, "--offline"], /Unknown option '--offline'\nusage: control-plane admin screens/],
      [["screens"], /--tenant is required/],
      [["screen", "show", "--tenant", tenant, "not-a-screen"], /no screen not-a-screen in tenant/],
      [
        ["screen", "resync", "--tenant", tenant, "00000000-0000-4000-8000-000000000000"],
        /no screen 00000000-0000-4000-8000-000000000000/,
      ],
      [["screen", "resync", "--tenant", tenant], /screen resync takes <screen-id>, got none/],
      [["publish", "retry", "--tenant", tenant], /publish retry needs --failed/],
      [["publish", "frobnicate"], /unknown command "publish frobnicate"/],
    ];
    for (const [args, message] of cases) {
      const result = await admin(...args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe("");
    }
    const commands = await cp.query<{ n: number }>("select count(*)::int as n from commands");
    expect(commands[0]?.n).toBe(0);
  });
});

describe("admin publish", () => {
  it("shows per-screen desired against applied version and counts", async () => {
    const { code, stdout } = await admin("publish", "status", "--tenant", tenant);
    expect(code).toBe(0);
    expect(stdout).toContain("4 screens: 2 synced, 1 pending, 1 failed, 0 never published");
    expect(stdout).toMatch(
      new RegExp(`${failing.id}\\s+pi-failing\\s+failed\\s+1\\s+0\\s+.*DOWNLOAD_FAILED: connection reset`),
    );
    const one = await admin("publish", "status", "--tenant", tenant, failing.id);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/sync\s+failed/);
    expect(one.stdout).toMatch(/desired\s+version 1 published/);
    expect(one.stdout).toMatch(/applied\s+version 0/);
    expect(one.stdout).toContain("error      DOWNLOAD_FAILED: connection reset while downloading");
  });

  it("retries failed screens with a RESYNC the screen receives, waits for its answer, and audits it", async () => {
    const running = admin("publish", "retry", "--tenant", tenant, "--failed", "--wait", "20s");
    const received = await failing.stream.next(15_000);
    if (received.message.case !== "command") throw new Error(`expected a command, got ${received.message.case}`);
    expect(received.message.value.kind).toBe(CommandKind.RESYNC);
    failing.stream.send({
      case: "commandResult",
      value: { commandId: received.message.value.commandId, status: CommandStatus.SUCCEEDED, message: "resynced" },
    });
    const { code, stdout } = await running;
    expect(stdout).toContain(`RESYNC ${received.message.value.commandId} queued for ${failing.id} "pi-failing"`);
    expect(stdout).toContain(`${failing.id} "pi-failing": SUCCEEDED (resynced)`);
    expect(code).toBe(0);
    const audit = await cp.query<{ action: string; actor_id: string; subject_id: string }>(
      "select action, actor_id, subject_id from audit_events where action = 'admin-cli/SendCommand'",
    );
    expect(audit).toEqual([
      expect.objectContaining({ subject_id: failing.id, actor_id: expect.stringMatching(/^cli:/) }),
    ]);
  });

  it("tells a screen that rejected its state as INVALID_STATE to wait for a new publish instead of retrying it", async () => {
    const status = await cp.query<{ desired_version: string }>(
      "select desired_version from screen_status where screen_id = $1",
      [failing.id],
    );
    failing.stream.send({
      case: "syncReport",
      value: {
        version: BigInt(status[0]?.desired_version ?? "0"),
        result: { case: "failed", value: { reason: SyncFailureReason.INVALID_STATE, message: "no playable clip" } },
      },
    });
    await eventually(async () =>
      (await admin("publish", "status", "--tenant", tenant)).stdout.includes("INVALID_STATE"),
    );
    const { code, stdout } = await admin("publish", "retry", "--tenant", tenant, "--failed");
    expect(code).toBe(0);
    expect(stdout).toContain(
      `not retried: ${failing.id} "pi-failing" rejected version 1 (INVALID_STATE: no playable clip)`,
    );
    expect(stdout).toContain("0 screen(s) told to retry");
  });
});

describe("admin screen", () => {
  it("resyncs one screen and reports the simulated player's answer", async () => {
    const [target] = simulated;
    const { code, stdout } = await admin("screen", "resync", "--tenant", tenant, target as string, "--wait", "20s");
    expect(stdout).toMatch(/: SUCCEEDED \(simulated RESYNC\)/);
    expect(code).toBe(0);
  });

  it("sends the other screen commands the runbooks use (clear-cache here) the same way", async () => {
    const [, target] = simulated;
    const { code, stdout } = await admin(
      "screen",
      "clear-cache",
      "--tenant",
      tenant,
      target as string,
      "--wait",
      "20s",
    );
    expect(stdout).toMatch(/^CLEAR_CACHE [0-9a-f-]{36} queued for /);
    expect(stdout).toMatch(/: SUCCEEDED \(simulated CLEAR_CACHE\)/);
    expect(code).toBe(0);
  });

  it("exits 1 when a screen does not answer within --wait, and says when the command expires", async () => {
    const { code, stdout } = await admin("screen", "resync", "--tenant", tenant, neverConnected, "--wait", "1s");
    expect(stdout).toMatch(/no answer within 1s; the screen gets the command when it connects, until \d{4}-/);
    expect(code).toBe(1);
  });

  it("shows what the screen plays and what its schedule says now, with its latest commands", async () => {
    const [target] = simulated;
    const { code, stdout } = await admin("screen", "show", "--tenant", tenant, target as string);
    expect(code).toBe(0);
    expect(stdout).toMatch(/connection\s+online/);
    expect(stdout).toMatch(/sync\s+synced: applied 1, desired 1/);
    expect(stdout).toMatch(/schedule\s+version 1 says now: standby \(nothing scheduled\)/);
    expect(stdout).toMatch(/RESYNC SUCCEEDED: simulated RESYNC \(by cli:/);
  });
});

describe("admin blobs check", () => {
  it("passes with every blob present, counts files no row names, and fails on a missing blob", async () => {
    const ok = await admin("blobs", "check", "--verify");
    expect(ok.stdout).toMatch(/referenced 2 blobs \(.*\), every one hashed/);
    expect(ok.code).toBe(0);

    const orphan = join(cp.blobDir, "sha256", "ab", "cd", `abcd${"0".repeat(60)}`);
    await mkdir(join(orphan, ".."), { recursive: true });
    await writeFile(orphan, "left over");
    const withOrphan = await admin("blobs", "check");
    expect(withOrphan.stdout).toContain("unreferenced 1 files (9 B) no row names: harmless");
    expect(withOrphan.code).toBe(0);

    const [video] = await cp.query<{ sha256: string }>("select sha256 from videos");
    const sha = video?.sha256 as string;
    await rm(join(cp.blobDir, "sha256", sha.slice(0, 2), sha.slice(2, 4), sha));
    const broken = await admin("blobs", "check");
    expect(broken.stdout).toContain(`PROBLEM missing video ${sha}`);
    expect(broken.code).toBe(1);
  });
});

describe("admin blobs check on an S3 blob store", () => {
  it("refuses, naming the S3 store, rather than report every blob missing from the blob folder", async () => {
    let stderr = "";
    const code = await runAdminCli(["blobs", "check"], {
      env: { ...cliEnv(), AVTECH_BLOB_STORE: "s3", AVTECH_S3_BUCKET: "avtech-blobs" },
      stdout: () => undefined,
      stderr: (text) => {
        stderr += text;
      },
    });
    expect(stderr).toContain(
      'blobs check reads the file store only; this control plane keeps blobs in S3 (blobStore.kind "s3")',
    );
    expect(code).not.toBe(0);
  });
});

describe("admin blobs check and OS update bundles", () => {
  it("counts a live release's bundle as referenced and names it when it is missing", async () => {
    const bytes = Buffer.from("a RAUC bundle, as far as this check cares");
    const sha = createHash("sha256").update(bytes).digest("hex");
    const release = randomUUID();
    await cp.query(
      `insert into update_releases (id, tenant_id, version, compatible, sha256, size_bytes, uploaded_at, uploaded_by)
       values ($1, $2, '1.2.3', 'avtech-rpi', $3, $4, now(), 'test')`,
      [release, cp.tenant.id, sha, bytes.length],
    );
    const missing = await admin("blobs", "check");
    expect(missing.stdout).toContain(
      `PROBLEM missing bundle ${sha} (release ${release}): no file for release ${release}`,
    );
    expect(missing.code).toBe(1);
    await mkdir(join(cp.blobDir, "sha256", sha.slice(0, 2), sha.slice(2, 4)), { recursive: true });
    await writeFile(join(cp.blobDir, "sha256", sha.slice(0, 2), sha.slice(2, 4), sha), bytes);
    const present = await admin("blobs", "check", "--verify");
    expect(present.stdout).not.toContain(`bundle ${sha}`);
    expect(present.stdout).toContain("unreferenced 1 files");
    await cp.query("update update_releases set deleted_at = now() where id = $1", [release]);
    expect((await admin("blobs", "check")).stdout).toContain("unreferenced 2 files");
  });
});

describe("admin set-tenant-quota", () => {
  it("changes the storage quota uploads are held to, and refuses a call that changes nothing", async () => {
    const set = await admin("set-tenant-quota", "--tenant", tenant, "--storage-quota-bytes", "1000");
    expect(set.stdout).toContain(`tenant ${tenant}: storage quota 1000 B (1000 bytes), screen quota 100`);
    expect(set.code).toBe(0);
    const transport = createGrpcTransport({
      baseUrl: cp.addresses.http2Url,
      interceptors: [bearerToken(cp.adminToken)],
    });
    const clip = await clips.video("other.mp4", { seconds: 1, size: "64x48" });
    await expect(
      createClient(ContentService, transport).uploadVideo(uploadMessages(clip, { fileName: "other.mp4" })),
    ).rejects.toThrow(/does not fit in the tenant's storage quota/);
    const tenants = JSON.parse((await admin("tenants", "--json")).stdout) as Array<{
      slug: string;
      storageQuotaBytes: number;
    }>;
    expect(tenants.find((t) => t.slug === tenant)?.storageQuotaBytes).toBe(1000);
    const nothing = await admin("set-tenant-quota", "--tenant", tenant);
    expect(nothing.stderr).toContain("give --storage-quota-bytes, --screen-quota or both");
    expect(nothing.code).toBe(2);
  });
});

describe("the admin CLI process", () => {
  it("prints the tenant's screens and exits 0, and exits 2 without a stack for an unknown tenant", async () => {
    const env = { ...process.env, ...cliEnv() };
    const ok = await execFileAsync(process.execPath, [cliPath, "admin", "screens", "--tenant", tenant], { env });
    expect(ok.stdout).toContain(failing.id);
    const bad = await execFileAsync(process.execPath, [cliPath, "admin", "screens", "--tenant", "nope"], { env }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^no tenant "nope"; tenants: /);
    expect(bad.stderr).not.toContain("    at ");
  });
});

describe("a screen ahead of the database", () => {
  it("is reported as ahead, not synced, when it applied a version this database never issued (an older backup restored)", async () => {
    const transport = createGrpcTransport({
      baseUrl: cp.addresses.http2Url,
      interceptors: [bearerToken(cp.adminToken)],
    });
    const { enrollmentKey } = await createClient(FleetService, transport).createEnrollmentKey({ name: "ahead" });
    const device = createClient(DeviceService, createGrpcTransport({ baseUrl: cp.addresses.http2Url }));
    const response = await device.register({ hardwareId: "pi-ahead", enrollmentKey, facts: { hostname: "pi-ahead" } });
    if (response.outcome.case !== "enrolled") throw new Error("expected enrollment");
    const stream = openStream(device, response.outcome.value.deviceToken, { appliedVersion: 5n });
    try {
      expect((await stream.next()).message.case).toBe("welcome");
      const { stdout } = await admin("publish", "status", "--tenant", tenant);
      expect(stdout).toMatch(new RegExp(`${response.outcome.value.deviceId}\\s+pi-ahead\\s+ahead\\s+0\\s+5`));
      expect(stdout).toMatch(/, 1 AHEAD of this database \(restored from an older backup\? see ansible\/README.md\)/);
    } finally {
      stream.hangUp();
    }
  });
});
