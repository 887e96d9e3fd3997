import { AsyncQueue } from "@avtech/io";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { type ConnectRequest, SyncFailureReason } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { ConnectionState } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { enrollScreen, eventually, openStream } from "../lib/fleet-device.ts";
import { type FleetTestServer, ManualClock, startFleetTestServer } from "../lib/fleet-server.ts";

const codeOf = (error: unknown) => (error instanceof ConnectError ? error.code : undefined);
const clip = { videoId: "v1", sha256: "a".repeat(64), durationMs: 5000, sizeBytes: 1000n, contentType: "video/mp4" };
const health = { cpuLoadPercent: 12, cpuTemperatureCelsius: 50, memoryUsedBytes: 100n, diskUsedBytes: 200n };

describe("the device stream", () => {
  let server: FleetTestServer;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock();
    server = await startFleetTestServer({ clock });
  });
  afterEach(() => server.close());

  it("answers hello with Welcome, then the desired state only when it is newer than applied", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-1");
    server.stores.publishSources.setDefaultPlaylist("tenant-a", [clip]);
    const [published] = (await server.publish().publish({})).results;
    expect(published?.version).toBe(1n);

    const behind = openStream(server.device(), deviceToken);
    const welcome = await behind.next();
    expect(welcome.message.case === "welcome" && welcome.message.value).toMatchObject({
      deviceId,
      config: { heartbeatIntervalSeconds: 15 },
    });
    const state = await behind.next();
    expect(state.message.case === "desiredState" && state.message.value.version).toBe(1n);
    behind.hangUp();

    const current = openStream(server.device(), deviceToken, { appliedVersion: 1n });
    expect((await current.next()).message.case).toBe("welcome");
    await expect(current.next(300)).rejects.toThrow(/no server message/);
    current.hangUp();
  });

  it("records acks, failures with their reason, health and deduplicated play events", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-2");
    server.stores.publishSources.setDefaultPlaylist("tenant-a", [clip]);
    await server.publish().publish({});
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    await stream.next();
    stream.send({
      case: "syncReport",
      value: {
        version: 1n,
        result: { case: "failed", value: { reason: SyncFailureReason.QUOTA_EXCEEDED, message: "needs 2 GB" } },
      },
    });
    await eventually(
      async () => (await server.fleet().getScreen({ id: deviceId })).screen?.syncStatus === SyncStatus.FAILED,
    );
    expect((await server.fleet().getScreen({ id: deviceId })).screen?.lastSyncError).toBe("QUOTA_EXCEEDED: needs 2 GB");
    expect(await server.metrics.getSingleMetricAsString("avtech_sync_failures_total")).toContain(
      'reason="QUOTA_EXCEEDED"} 1',
    );

    stream.send({ case: "syncReport", value: { version: 1n, result: { case: "applied", value: {} } } });
    stream.send({ case: "heartbeat", value: { sentAt: timestampNow(), health } });
    const event = { eventId: "e1", assetSha256: clip.sha256, videoId: "v1", startedAt: timestampNow() };
    stream.send({ case: "playEvents", value: { events: [event, { ...event, eventId: "e2" }] } });
    stream.send({ case: "playEvents", value: { events: [event] } });
    await eventually(() => server.stores.playEvents.ids.size === 2 && server.stores.health.rows.size === 1);
    const { screen } = await server.fleet().getScreen({ id: deviceId });
    expect(screen).toMatchObject({
      syncStatus: SyncStatus.SYNCED,
      appliedVersion: 1n,
      desiredVersion: 1n,
      connection: ConnectionState.ONLINE,
    });
    expect(screen?.lastHealth?.cpuLoadPercent).toBe(12);
    expect(await server.metrics.getSingleMetricAsString("avtech_publish_to_ack_seconds")).toContain("_count 1");
    stream.hangUp();
  });

  it("drops a stream that sends no hello in time", async () => {
    const quick = await startFleetTestServer({ config: { helloTimeoutMs: 200 } });
    try {
      const { deviceToken } = await enrollScreen(quick, "pi-silent");
      const silent = quick.device().connect(new AsyncQueue<ConnectRequest>(), {
        headers: { authorization: `Bearer ${deviceToken}` },
      });
      const error = await (async () => {
        for await (const _ of silent) return undefined;
      })().catch((e: unknown) => e);
      expect(codeOf(error)).toBe(Code.DeadlineExceeded);
      expect(quick.plane.registry.size).toBe(0);
    } finally {
      await quick.close();
    }
  });

  it("keeps one stream per screen: a second connection replaces the first", async () => {
    const { deviceToken } = await enrollScreen(server, "pi-3");
    const first = openStream(server.device(server.transport()), deviceToken);
    await first.next();
    const second = openStream(server.device(server.transport()), deviceToken);
    await second.next();
    expect(codeOf(await first.ended)).toBe(Code.Aborted);
    expect(server.plane.registry.size).toBe(1);
    second.hangUp();
  });

  it("disconnects a screen at once when its token is revoked, and refuses the token afterwards", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-4");
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    await server.fleet().revokeScreenToken({ id: deviceId });
    const error = await stream.ended;
    expect(codeOf(error)).toBe(Code.Unauthenticated);
    expect(String(error)).toContain("revoked");
    const again = openStream(server.device(), deviceToken);
    expect(codeOf(await again.ended)).toBe(Code.Unauthenticated);
  });

  it("disconnects a deleted screen and refuses another tenant's id", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-5");
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    await expect(server.fleet("tenant-b").deleteScreen({ id: deviceId })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.NotFound,
    );
    await server.fleet().deleteScreen({ id: deviceId });
    expect(codeOf(await stream.ended)).toBe(Code.Unauthenticated);
  });

  it("delivers a command queued while offline when the screen connects, and records its result", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-6");
    const { commands } = await server.fleet().sendCommand({ screenIds: [deviceId], kind: CommandKind.IDENTIFY });
    expect(commands[0]?.status).toBe(CommandStatus.QUEUED);
    const stream = openStream(server.device(), deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    const delivered = await stream.next();
    expect(delivered.message.case === "command" && delivered.message.value).toMatchObject({
      kind: CommandKind.IDENTIFY,
      identifySeconds: 10,
      commandId: commands[0]?.command?.commandId,
    });
    stream.send({
      case: "commandResult",
      value: { commandId: commands[0]?.command?.commandId ?? "", status: CommandStatus.SUCCEEDED, message: "shown" },
    });
    await eventually(async () => {
      const listed = await server.fleet().listCommands({ screenId: deviceId });
      return listed.commands[0]?.status === CommandStatus.SUCCEEDED && listed.commands[0].resultMessage === "shown";
    });
    stream.hangUp();
  });

  it("expires a queued command the screen did not fetch in time", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-7");
    await server.fleet().sendCommand({ screenIds: [deviceId], kind: CommandKind.REBOOT, ttlSeconds: 60 });
    clock.advance(61_000);
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    await expect(stream.next(300)).rejects.toThrow(/no server message/);
    expect((await server.fleet().listCommands({ screenId: deviceId })).commands[0]?.status).toBe(CommandStatus.EXPIRED);
    stream.hangUp();
  });

  it("sends a command at once to a connected screen and stores its screenshot", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-8");
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    const { commands } = await server.fleet().sendCommand({ screenIds: [deviceId], kind: CommandKind.SCREENSHOT });
    const commandId = commands[0]?.command?.commandId ?? "";
    expect(commands[0]?.status).toBe(CommandStatus.DELIVERED);
    expect((await stream.next()).message.case).toBe("command");
    const png = Buffer.from("\x89PNG fake image bytes");
    stream.send({
      case: "screenshotChunk",
      value: { commandId, offset: 0n, data: png.subarray(0, 5), totalBytes: BigInt(png.length) },
    });
    stream.send({
      case: "screenshotChunk",
      value: { commandId, offset: 5n, data: png.subarray(5), last: true, totalBytes: BigInt(png.length) },
    });
    await eventually(() => server.stores.screenshots.rows.has(commandId));
    expect(Buffer.from((await server.fleet().getScreenshot({ commandId })).png)).toEqual(png);
    await expect(server.fleet("tenant-b").getScreenshot({ commandId })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.NotFound,
    );
    stream.hangUp();
  });

  it("turns a screen offline after 3 missed heartbeats, and online again when it speaks", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-9");
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    const connection = async () => (await server.fleet().getScreen({ id: deviceId })).screen?.connection;
    expect(await connection()).toBe(ConnectionState.ONLINE);
    clock.advance(44_000);
    expect(server.plane.presence.sweep()).toEqual([]);
    clock.advance(2_000);
    expect(server.plane.presence.sweep()).toEqual([deviceId]);
    expect(await connection()).toBe(ConnectionState.OFFLINE);
    expect(server.plane.presence.onlineCount).toBe(0);
    stream.send({ case: "heartbeat", value: { health } });
    await eventually(async () => (await connection()) === ConnectionState.ONLINE);
    stream.hangUp();
    await eventually(async () => (await connection()) === ConnectionState.OFFLINE);
  });

  it("runs the presence sweep and health retention in the background", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-11");
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    stream.send({ case: "heartbeat", value: { health } });
    await eventually(() => server.stores.health.rows.get(deviceId)?.length === 1);
    const stop = server.plane.startBackground({ presenceSweepMs: 20, healthRetentionMs: 60_000, pruneEveryMs: 20 });
    try {
      clock.advance(120_000);
      await eventually(() => server.plane.presence.onlineCount === 0);
      await eventually(() => server.stores.health.rows.get(deviceId)?.length === 0);
    } finally {
      stop();
      stream.hangUp();
    }
  });

  it("keeps one health sample a minute of 15 s heartbeats, and returns the history downsampled", async () => {
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-10");
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    const from = clock.now();
    for (let i = 0; i < 16; i++) {
      const cpuLoadPercent = i + 1;
      stream.send({ case: "heartbeat", value: { health: { ...health, cpuLoadPercent } } });
      // The live status takes every heartbeat's health.
      await eventually(
        async () => (await server.stores.statuses.get(deviceId))?.lastHealth?.cpuLoadPercent === cpuLoadPercent,
      );
      clock.advance(15_000);
    }
    // Heartbeats at 0, 15, …, 225 s: samples at 0, 60, 120 and 180 s.
    expect(server.stores.health.rows.get(deviceId)?.map((s) => s.health.cpuLoadPercent)).toEqual([1, 5, 9, 13]);
    const { points } = await server.fleet().getHealthHistory({
      screenId: deviceId,
      from: { seconds: BigInt(from.getTime() / 1000), nanos: 0 },
      to: { seconds: BigInt(from.getTime() / 1000 + 240), nanos: 0 },
      maxPoints: 2,
    });
    expect(points.map((p) => p.cpuLoadPercent)).toEqual([3, 11]);
    stream.hangUp();
  });
});
