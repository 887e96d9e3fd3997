import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import type { WatchFleetResponse } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { ConnectionState } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { SyncStatus } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BlobReader, createAssetHandler } from "../../src/fleet/asset-http/index.ts";
import { PgWakeups } from "../../src/fleet/notify/index.ts";
import { PgScreenStatusStore } from "../../src/fleet/pg/index.ts";
import { enrollScreen, eventually, openStream } from "../lib/fleet-device.ts";
import { ManualClock } from "../lib/fleet-server.ts";
import { openPgFleetDatabase, type PgFleetDatabase } from "./pg-fleet.ts";

const codeOf = (error: unknown) => (error instanceof ConnectError ? error.code : undefined);
const health = { cpuLoadPercent: 12, cpuTemperatureCelsius: 50, memoryUsedBytes: 100n, diskUsedBytes: 200n };

describe("the fleet plane on PostgreSQL", () => {
  let pgf: PgFleetDatabase;
  let a: string;
  let b: string;

  beforeAll(async () => {
    pgf = await openPgFleetDatabase();
    a = await pgf.tenant("tenant-a");
    b = await pgf.tenant("tenant-b");
  });
  afterAll(() => pgf.close());

  it("pairs end to end, and a board that pairs again is re-attached to its screen", async () => {
    const server = await pgf.server();
    const device = server.device();
    const ticketOf = async (hardwareId: string) => {
      const response = await device.register({ hardwareId, facts: { model: "Raspberry Pi 5", hostname: hardwareId } });
      if (response.outcome.case !== "pairing") throw new Error("expected a pairing ticket");
      return response.outcome.value;
    };
    const ticket = await ticketOf("pi-pair-1");
    const { screen } = await server
      .fleet(a)
      .claimScreen({ pairingCode: ticket.pairingCode, name: "Lobby", tags: ["x"] });
    expect(screen).toMatchObject({ name: "Lobby", hardwareId: "pi-pair-1", model: "Raspberry Pi 5", tags: ["x"] });
    const claimed = await device.completePairing({ pairingSecret: ticket.pairingSecret });
    if (claimed.outcome.case !== "claimed") throw new Error("expected the token");
    await expect(device.completePairing({ pairingSecret: ticket.pairingSecret })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.FailedPrecondition,
    );
    const stream = openStream(device, claimed.outcome.value.deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    stream.hangUp();

    // The board is re-flashed and shows a new code: tenant a already has pi-pair-1, so the code is
    // claimed for that screen (no second screen, no unique violation), and it is used up for tenant b.
    const again = await ticketOf("pi-pair-1");
    const { screen: reattached } = await server.fleet(a).claimScreen({ pairingCode: again.pairingCode, name: "Dup" });
    expect(reattached).toMatchObject({ id: screen?.id, name: "Lobby", hardwareId: "pi-pair-1" });
    const { rows } = await pgf.pool.query("SELECT count(*)::int AS n FROM screens WHERE hardware_id = 'pi-pair-1'");
    expect(rows).toEqual([{ n: 1 }]);
    const repaired = await device.completePairing({ pairingSecret: again.pairingSecret });
    expect(repaired.outcome.case === "claimed" && repaired.outcome.value.deviceId).toBe(screen?.id);
    await expect(server.fleet(b).claimScreen({ pairingCode: again.pairingCode, name: "B" })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.NotFound,
    );
  });

  it("enrolls with a key up to its use limit, and a revoked token closes the stream", async () => {
    const server = await pgf.server();
    const { enrollmentKey } = await server.fleet(a).createEnrollmentKey({ name: "site", maxUses: 1 });
    const enrolled = await server.device().register({ hardwareId: "pi-key-1", enrollmentKey });
    if (enrolled.outcome.case !== "enrolled") throw new Error("expected enrollment");
    await expect(server.device().register({ hardwareId: "pi-key-2", enrollmentKey })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.Unauthenticated,
    );
    const { deviceToken, deviceId } = enrolled.outcome.value;
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    await server.fleet(a).revokeScreenToken({ id: deviceId });
    expect(codeOf(await stream.ended)).toBe(Code.Unauthenticated);
    expect(codeOf(await openStream(server.device(), deviceToken).ended)).toBe(Code.Unauthenticated);
    await expect(server.fleet(b).getScreen({ id: deviceId })).rejects.toSatisfy((e) => codeOf(e) === Code.NotFound);
    await expect(server.fleet(a).getScreen({ id: "not-a-uuid" })).rejects.toSatisfy((e) => codeOf(e) === Code.NotFound);
  });

  it("publishes once for unchanged content, and 50 concurrent publishes get strictly increasing versions, none lost", async () => {
    const server = await pgf.server();
    const tenant = await pgf.tenant("publish");
    const { deviceId } = await enrollScreen(server, "pi-pub-1", tenant);
    await pgf.defaultPlaylist(tenant, ["a".repeat(64)]);
    const first = await server.publish(tenant).publish({});
    expect(first.results[0]).toMatchObject({ screenId: deviceId, version: 1n, changed: true });
    const second = await server.publish(tenant).publish({});
    expect(second.results[0]).toMatchObject({ version: 1n, changed: false });

    // Every publish reads different content (as if an editor saved between them).
    let n = 0;
    const sources = server.stores.publishSources;
    const read = sources.forTenant.bind(sources);
    sources.forTenant = async (tenantId) => {
      const found = await read(tenantId);
      const playlists = new Map([...found.playlists].map(([id, p]) => [id, { ...p, name: `revision ${n++}` }]));
      return { ...found, playlists };
    };
    const responses = await Promise.all(Array.from({ length: 50 }, () => server.publish(tenant).publish({})));
    const versions = responses.map((r) => r.results[0]?.version ?? 0n).sort((x, y) => (x < y ? -1 : 1));
    expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 2)));
    const { rows } = await pgf.pool.query(
      "SELECT count(*)::int AS n, max(version) AS top FROM desired_state WHERE screen_id = $1",
      [deviceId],
    );
    expect(rows[0]).toEqual({ n: 51, top: "51" });
    expect((await server.stores.statuses.get(deviceId))?.desiredVersion).toBe(51n);
    await server.fleet(tenant).deleteScreen({ id: deviceId });
    const left = await pgf.pool.query("SELECT 1 FROM desired_state WHERE screen_id = $1", [deviceId]);
    expect(left.rowCount).toBe(0);
  });

  it("sends a command to several screens at once, and refuses the lot when one is another tenant's", async () => {
    const server = await pgf.server();
    const online = await enrollScreen(server, "pi-batch-1", a);
    const offline = await enrollScreen(server, "pi-batch-2", a);
    const theirs = await enrollScreen(server, "pi-batch-3", b);
    const stream = openStream(server.device(), online.deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    const error = await server
      .fleet(a)
      .sendCommand({ screenIds: [online.deviceId, theirs.deviceId, offline.deviceId], kind: CommandKind.IDENTIFY })
      .catch((e) => e);
    expect(codeOf(error)).toBe(Code.NotFound);
    expect((error as ConnectError).rawMessage).toBe(`no screen ${theirs.deviceId} in your tenant`);
    const none = await pgf.pool.query("SELECT 1 FROM commands WHERE screen_id = ANY($1::uuid[])", [
      [online.deviceId, offline.deviceId, theirs.deviceId],
    ]);
    expect(none.rowCount).toBe(0);
    const { commands } = await server
      .fleet(a)
      .sendCommand({ screenIds: [offline.deviceId, online.deviceId], kind: CommandKind.IDENTIFY });
    // Read back after the wake-up: the connected screen's command went out on its stream.
    expect(commands.map((c) => [c.screenId, c.status])).toEqual([
      [offline.deviceId, CommandStatus.QUEUED],
      [online.deviceId, CommandStatus.DELIVERED],
    ]);
    expect((await stream.next()).message.case).toBe("command");
    stream.hangUp();
  });

  it("delivers a command queued offline on connect and records its result", async () => {
    const server = await pgf.server();
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-cmd-1", a);
    const { commands } = await server.fleet(a).sendCommand({ screenIds: [deviceId], kind: CommandKind.IDENTIFY });
    expect(commands[0]?.status).toBe(CommandStatus.QUEUED);
    const stream = openStream(server.device(), deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    const delivered = await stream.next();
    const commandId = commands[0]?.command?.commandId ?? "";
    expect(delivered.message.case === "command" && delivered.message.value.commandId).toBe(commandId);
    stream.send({ case: "commandResult", value: { commandId, status: CommandStatus.SUCCEEDED, message: "shown" } });
    await eventually(async () => {
      const listed = await server.fleet(a).listCommands({ screenId: deviceId });
      return listed.commands[0]?.status === CommandStatus.SUCCEEDED && listed.commands[0].resultMessage === "shown";
    });
    stream.hangUp();
  });

  it("turns a silent screen offline, batches heartbeats into one write, and keeps a health sample a minute", async () => {
    const clock = new ManualClock(Date.now());
    const server = await pgf.server({ clock });
    const { deviceToken, deviceId } = await enrollScreen(server, "pi-hb-1", a);
    const stream = openStream(server.device(), deviceToken);
    await stream.next();
    const connection = async () => (await server.fleet(a).getScreen({ id: deviceId })).screen?.connection;
    expect(await connection()).toBe(ConnectionState.ONLINE);
    clock.advance(46_000);
    expect(server.plane.presence.sweep()).toEqual([deviceId]);
    expect(await connection()).toBe(ConnectionState.OFFLINE);

    for (let i = 0; i < 3; i++) stream.send({ case: "heartbeat", value: { health: { ...health, cpuLoadPercent: i } } });
    await eventually(async () => (await connection()) === ConnectionState.ONLINE);
    await eventually(() => server.stores.statuses.pendingCount === 1);
    // Another process (a fresh store) sees the heartbeat only after the batched flush.
    const elsewhere = new PgScreenStatusStore(pgf.pool);
    const before = (await elsewhere.get(deviceId))?.lastSeenAt;
    await server.stores.flush();
    expect(server.stores.statuses.pendingCount).toBe(0);
    const after = await elsewhere.get(deviceId);
    expect(after?.lastSeenAt?.getTime()).toBeGreaterThan(before?.getTime() ?? 0);
    expect(after?.lastHealth?.cpuLoadPercent).toBe(2);
    const samples = async () =>
      (await server.stores.health.range(deviceId, new Date(0), new Date(Date.now() + 3_600_000))).map(
        (s) => s.health.cpuLoadPercent,
      );
    // The three heartbeats came within a minute: the history keeps the first (healthSampleSeconds).
    expect(await samples()).toEqual([0]);
    clock.advance(60_000);
    stream.send({ case: "heartbeat", value: { health: { ...health, cpuLoadPercent: 3 } } });
    await eventually(async () => (await samples()).length === 2);
    expect(await samples()).toEqual([0, 3]);
    stream.hangUp();
  });

  it("streams a WatchFleet snapshot of the caller's tenant only", async () => {
    const server = await pgf.server({ broadcastFlushMs: 3_600_000 });
    const tenant = await pgf.tenant("watch");
    await enrollScreen(server, "pi-watch-1", tenant);
    await enrollScreen(server, "pi-watch-other", b);
    const abort = new AbortController();
    const events: WatchFleetResponse[] = [];
    const watching = (async () => {
      for await (const event of server.fleet(tenant).watchFleet({}, { signal: abort.signal })) events.push(event);
    })().catch(() => undefined);
    await eventually(() => events.length === 1);
    const snapshot = events[0]?.event;
    expect(snapshot?.case === "snapshot" && snapshot.value.screens.map((s) => s.hardwareId)).toEqual(["pi-watch-1"]);
    abort.abort();
    await watching;
  });

  it("refuses a screen another tenant's asset exactly like a missing one", async () => {
    const root = await mkdtemp(join(tmpdir(), "avtech-pg-assets-"));
    const mine = Buffer.from("tenant a clip");
    const theirs = Buffer.from("tenant b clip");
    const sha = (data: Buffer) => createHash("sha256").update(data).digest("hex");
    await writeFile(join(root, sha(mine)), mine);
    await writeFile(join(root, sha(theirs)), theirs);
    const blobs: BlobReader = {
      stat: async (s) => {
        const found = await stat(join(root, s)).catch(() => undefined);
        return found ? { size: found.size } : undefined;
      },
      open: async (s, { start, end }) => createReadStream(join(root, s), { start, end }),
    };
    const server = await pgf.server();
    const tenant = await pgf.tenant("assets");
    await pgf.defaultPlaylist(tenant, [sha(mine)]);
    await pgf.defaultPlaylist(b, [sha(theirs)]);
    const { deviceToken } = await enrollScreen(server, "pi-assets-1", tenant);
    const handler = createAssetHandler({
      blobs,
      screens: server.stores.screens,
      assets: server.stores.assets,
      logger: pino({ level: "silent" }),
    });
    const http1 = http.createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => http1.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(http1.address() as AddressInfo).port}`;
    try {
      const get = (s: string) => fetch(`${url}/assets/${s}`, { headers: { authorization: `Bearer ${deviceToken}` } });
      const own = await get(sha(mine));
      expect(Buffer.from(await own.arrayBuffer())).toEqual(mine);
      const foreign = await get(sha(theirs));
      const missing = await get("0".repeat(64));
      expect([foreign.status, missing.status]).toEqual([404, 404]);
      expect(await foreign.text()).toBe(await missing.text());
    } finally {
      http1.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it("pushes a publish made on process A to the screen whose stream process B holds (LISTEN/NOTIFY)", async () => {
    const logger = pino({ level: "silent" });
    const tenant = await pgf.tenant("replicas");
    const buses: PgWakeups[] = [];
    const servers = [];
    try {
      for (let i = 0; i < 2; i++) {
        let deliver: (ids: string[]) => Promise<void> = async () => undefined;
        const bus = new PgWakeups({
          connectionString: pgf.db.database.url,
          logger,
          onWake: (ids) => deliver(ids),
          onResync: () => undefined,
        });
        await bus.start();
        buses.push(bus);
        const server = await pgf.server({ bus });
        deliver = (ids) => server.plane.delivery.deliver(ids);
        servers.push(server);
      }
      const [holder, publisher] = servers;
      if (!holder || !publisher) throw new Error("two servers expected");
      const { deviceToken, deviceId } = await enrollScreen(holder, "pi-replica", tenant);
      const stream = openStream(holder.device(), deviceToken);
      expect((await stream.next()).message.case).toBe("welcome");
      await pgf.defaultPlaylist(tenant, ["c".repeat(64)]);
      await publisher.publish(tenant).publish({});
      const pushed = await stream.next();
      expect(pushed.message.case === "desiredState" && pushed.message.value.version).toBe(1n);
      stream.send({ case: "syncReport", value: { version: 1n, result: { case: "applied", value: {} } } });
      await eventually(
        async () =>
          (await publisher.fleet(tenant).getScreen({ id: deviceId })).screen?.syncStatus === SyncStatus.SYNCED,
      );
      stream.hangUp();
    } finally {
      for (const bus of buses) await bus.stop();
    }
  });
});
