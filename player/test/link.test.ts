import { mkdtemp, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { SyncFailureReason } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { UpdatePhase, UpdateReportSchema } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadCredentials, prepareLayout, saveCredentials, stateLayout } from "../src/storage/index.ts";
import { type AssetServer, bytesOf, startAssetServer } from "./lib/asset-server.ts";
import { FakeControlPlane } from "./lib/fake-control-plane.ts";
import { type LinkedDevice, startLinkedDevice } from "./lib/linked-device.ts";
import { desiredState } from "./lib/states.ts";

let server: AssetServer;
let cp: FakeControlPlane;
const devices: LinkedDevice[] = [];

beforeEach(async () => {
  server = await startAssetServer();
  cp = new FakeControlPlane();
});
afterEach(async () => {
  for (const d of devices.splice(0)) await d.destroy();
  await server.close();
});

async function linked(options: Partial<Parameters<typeof startLinkedDevice>[1]> = {}): Promise<LinkedDevice> {
  const d = await startLinkedDevice(cp, { baseUrl: server.baseUrl, ...options });
  devices.push(d);
  return d;
}

function clip(size: number, seed: number) {
  const sha256 = server.add(bytesOf(size, seed));
  return { sha256, sizeBytes: size, url: `/assets/${sha256}` };
}

describe("link", () => {
  it("enrolls with the key, stores the token 0600 and says hello", async () => {
    const d = await linked();
    const hello = await cp.waitFor((r) => r.message.case === "hello");
    expect(hello.message.value).toMatchObject({ appliedVersion: 0n, bootId: "boot-1", playerVersion: "0.1.0" });
    expect(cp.registrations[0]).toMatchObject({ hardwareId: "hw-1", enrollmentKey: "ek-1" });
    expect((await stat(d.layout.tokenFile)).mode & 0o777).toBe(0o600);
    await cp.waitFor((r) => r.message.case === "heartbeat");
    expect(d.link.status()).toMatchObject({ state: "connected", deviceId: "dev-1", screenName: "Lobby" });
  });

  it("applies a desired state from the stream and acks it", async () => {
    await linked();
    await cp.waitFor((r) => r.message.case === "hello");
    cp.send({ case: "desiredState", value: desiredState({ version: 3, playlists: { main: [clip(64_000, 1)] } }) });
    const report = await cp.waitFor((r) => r.message.case === "syncReport");
    expect(report.message.value).toMatchObject({ version: 3n, result: { case: "applied" } });
  });

  it("reports ASSET_NOT_FOUND over the stream and keeps the last good state", async () => {
    const d = await linked();
    await cp.waitFor((r) => r.message.case === "hello");
    const good = clip(10_000, 2);
    cp.send({ case: "desiredState", value: desiredState({ version: 1, playlists: { main: [good] } }) });
    await cp.waitFor((r) => r.message.case === "syncReport");
    const missing = { sha256: "e".repeat(64), sizeBytes: 5, url: `/assets/${"e".repeat(64)}` };
    cp.send({ case: "desiredState", value: desiredState({ version: 2, playlists: { main: [good, missing] } }) });
    const report = await cp.waitFor((r) => r.message.case === "syncReport" && r.message.value.result.case === "failed");
    expect(report.message.value).toMatchObject({
      version: 2n,
      result: { case: "failed", value: { reason: SyncFailureReason.ASSET_NOT_FOUND, assetSha256: missing.sha256 } },
    });
    expect(d.reconciler.appliedVersion).toBe(1n);
  });

  it("pairs: shows the code and polls until claimed", async () => {
    cp.pairing = true;
    cp.waitingPolls = 1;
    const d = await linked({ enrollment: { kind: "pairing" } });
    const slate = await d.playback.waitFor((c) => c.method === "showSlate");
    expect(slate).toMatchObject({ slate: { kind: "pairing", pairingCode: "BCDFGHJK" } });
    await cp.waitFor((r) => r.message.case === "hello");
    expect(cp.registrations[0]?.enrollmentKey).toBe("");
  }, 10_000);

  it("reconnects after the control plane fails and resends the last sync report", async () => {
    cp.failConnects = 3;
    const d = await linked();
    cp.send({ case: "desiredState", value: desiredState({ version: 1, playlists: { main: [clip(1000, 3)] } }) });
    await cp.waitFor((r) => r.message.case === "hello");
    expect(cp.connects).toBe(4);
    cp.send({ case: "desiredState", value: desiredState({ version: 1, playlists: { main: [clip(1000, 3)] } }) });
    await cp.waitFor((r) => r.message.case === "syncReport");
    const before = cp.ofCase("syncReport").length;
    cp.dropStream();
    await cp.waitFor((r) => r.message.case === "syncReport" && cp.ofCase("syncReport").length > before);
    expect(cp.ofCase("hello")).toHaveLength(2);
    expect(d.link.status().state).toBe("connected");
  });

  it("waits a random delay under spreadMs before reconnecting after a stable session ends", async () => {
    // random() = 0.5: the first connect waits 2.5 ms, the reconnect after the stable session half of spreadMs.
    await linked({ reconnect: { stableMs: 50, spreadMs: 1600 }, random: () => 0.5 });
    await cp.waitFor((r) => r.message.case === "hello");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const dropped = Date.now();
    cp.dropStream();
    await cp.waitFor((r) => r.message.case === "hello" && cp.ofCase("hello").length === 2);
    expect(Date.now() - dropped).toBeGreaterThanOrEqual(790);
  });

  it("says which OS release and slot run in Hello, sends update reports, and the last one again after a reconnect", async () => {
    const d = await linked({ os: () => ({ imageVersion: "2026.12.1", bootedSlot: "A" }) });
    const hello = await cp.waitFor((r) => r.message.case === "hello");
    expect(hello.message.value).toMatchObject({ imageVersion: "2026.12.1", bootedSlot: "A" });
    await cp.waitFor((r) => r.message.case === "heartbeat");
    const report = (phase: UpdatePhase, bytesDone: bigint) =>
      create(UpdateReportSchema, { rolloutId: "ro-1", version: "2026.12.2", phase, bytesDone, bytesTotal: 100n });
    d.link.updateReport(report(UpdatePhase.DOWNLOADING, 40n));
    d.link.updateReport(report(UpdatePhase.REBOOTING, 100n));
    await cp.waitFor((r) => r.message.case === "updateReport" && r.message.value.phase === UpdatePhase.REBOOTING);
    cp.dropStream();
    await cp.waitFor((r) => r.message.case === "hello" && cp.ofCase("hello").length === 2);
    await cp.waitFor(() => cp.ofCase("updateReport").filter((u) => u.phase === UpdatePhase.REBOOTING).length === 2);
    const afterReconnect = cp.ofCase("updateReport").slice(-1);
    expect(afterReconnect).toEqual([expect.objectContaining({ phase: UpdatePhase.REBOOTING, bytesDone: 100n })]);
    // Progress never piles up: every report sent is one of the two, at most once per session each.
    expect(cp.ofCase("updateReport").length).toBeLessThanOrEqual(3);
  });

  it("registers again when the token is refused", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "avtech-link-"));
    const layout = stateLayout(dataDir, join(dataDir, "media"));
    await prepareLayout(layout);
    await saveCredentials(layout.tokenFile, { deviceId: "dev-1", deviceToken: "revoked", screenName: "Lobby" });
    await linked({ dataDir });
    await cp.waitFor((r) => r.message.case === "hello");
    expect(cp.registrations.length).toBe(1);
    expect(await loadCredentials(layout.tokenFile)).toMatchObject({ deviceToken: "token-1" });
  });

  it("runs commands and reports EXPIRED for late ones", async () => {
    const d = await linked();
    await cp.waitFor((r) => r.message.case === "hello");
    const expiresAt = timestampFromDate(new Date(Date.now() + 60_000));
    cp.send({ case: "command", value: { commandId: "c1", kind: CommandKind.IDENTIFY, identifySeconds: 3, expiresAt } });
    cp.send({ case: "command", value: { commandId: "c2", kind: CommandKind.REBOOT, expiresAt } });
    cp.send({ case: "command", value: { commandId: "c3", kind: CommandKind.RESTART_PLAYER, expiresAt } });
    cp.send({
      case: "command",
      value: { commandId: "c4", kind: CommandKind.REBOOT, expiresAt: timestampFromDate(new Date(Date.now() - 1000)) },
    });
    d.playback.screenshotBytes = bytesOf(600 * 1024, 9);
    cp.send({ case: "command", value: { commandId: "c5", kind: CommandKind.SCREENSHOT, expiresAt } });
    await cp.waitFor((r) => r.message.case === "commandResult" && r.message.value.commandId === "c5");
    const results = Object.fromEntries(cp.ofCase("commandResult").map((r) => [r.commandId, r.status]));
    expect(results).toEqual({
      c1: CommandStatus.SUCCEEDED,
      c2: CommandStatus.SUCCEEDED,
      c3: CommandStatus.SUCCEEDED,
      c4: CommandStatus.EXPIRED,
      c5: CommandStatus.SUCCEEDED,
    });
    expect(d.playback.calls).toContainEqual({ method: "identify", text: "Lobby", seconds: 3 });
    // The reboot is asked for through the request file the image's avtech-reboot.path watches.
    await expect(stat(d.layout.rebootRequestFile)).resolves.toBeTruthy();
    expect(d.exits).toEqual([75]);
    const chunks = cp.ofCase("screenshotChunk");
    expect(chunks.map((c) => [Number(c.offset), c.data.length, c.last])).toEqual([
      [0, 262_144, false],
      [262_144, 262_144, false],
      [524_288, 90_112, true],
    ]);
  });

  it("keeps proof-of-play across a restart and deletes batches once sent", async () => {
    const first = await linked();
    await cp.waitFor((r) => r.message.case === "hello");
    await first.stopLink();
    const record = {
      assetSha256: "a".repeat(64),
      videoId: "v1",
      playlistId: "p",
      ruleId: "",
      startedAt: new Date(),
      endedAt: new Date(),
      completed: true,
    };
    for (let i = 0; i < 700; i++) first.playback.emitPlayRecord(record);
    await first.playEvents.seal();
    expect(await readdir(first.layout.playEventsDir)).toHaveLength(2);
    await first.stop();

    const second = await linked({ dataDir: first.dataDir });
    await cp.waitFor((r) => r.message.case === "playEvents" && cp.ofCase("playEvents").length === 2);
    const batches = cp.ofCase("playEvents").map((b) => b.events.length);
    expect(batches).toEqual([500, 200]);
    // A batch file goes once the transport has taken the message after it (here: the next heartbeat or batch).
    cp.send({ case: "config", value: { heartbeatIntervalSeconds: 5, playEventBatchSeconds: 1 } });
    await expect.poll(() => readdir(second.layout.playEventsDir), { timeout: 3_000 }).toEqual([]);
  }, 15_000);
});
