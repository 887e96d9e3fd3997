import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkPayloads, PgWakeups } from "../../src/fleet/notify/index.ts";
import { enrollScreen, eventually, openStream } from "../lib/fleet-device.ts";
import { createMemoryFleetStores } from "../lib/fleet-memory-stores.ts";
import { type FleetTestServer, startFleetTestServer } from "../lib/fleet-server.ts";
import { createTestDatabase, type TestDatabase } from "../lib/test-database.ts";

describe("LISTEN/NOTIFY wake-ups between processes", () => {
  let database: TestDatabase;
  const logger = pino({ level: "silent" });

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it("carries screen ids from one listener's notify to the other, and re-reads after a lost connection", async () => {
    const woken = { a: [] as string[], b: [] as string[] };
    const resyncs = { a: 0, b: 0 };
    const make = (name: "a" | "b") =>
      new PgWakeups({
        connectionString: database.url,
        logger,
        reconnectMs: 50,
        onWake: (ids) => {
          woken[name].push(...ids);
        },
        onResync: () => {
          resyncs[name]++;
        },
      });
    const a = make("a");
    const b = make("b");
    await a.start();
    await b.start();
    try {
      expect(resyncs).toEqual({ a: 1, b: 1 });
      await a.notify(["screen-1", "screen-2"]);
      await eventually(() => woken.b.length === 2);
      expect(woken.b).toEqual(["screen-1", "screen-2"]);

      // Kill b's listening connection from outside: b must reconnect, LISTEN, then resync.
      const pid = await b.listenerPid();
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      await admin.end();
      await eventually(() => resyncs.b === 2, 10_000);
      await a.notify(["screen-3"]);
      await eventually(() => woken.b.includes("screen-3"));
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it("splits long id lists into payloads under 8000 bytes", () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, "0")}`);
    const payloads = chunkPayloads(ids, 7900);
    expect(payloads.length).toBeGreaterThan(1);
    expect(payloads.every((p) => Buffer.byteLength(p) <= 7900)).toBe(true);
    expect(payloads.join(",").split(",")).toEqual(ids);
  });
});

describe("two control-plane processes on one database", () => {
  it("pushes a publish made on one process to the screen whose stream the other holds", async () => {
    const database = await createTestDatabase();
    const stores = createMemoryFleetStores();
    const logger = pino({ level: "silent" });
    const buses: PgWakeups[] = [];
    const servers: FleetTestServer[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        let deliver: (ids: string[]) => Promise<void> = async () => undefined;
        const bus = new PgWakeups({
          connectionString: database.url,
          logger,
          onWake: (ids) => deliver(ids),
          onResync: () => undefined,
        });
        await bus.start();
        buses.push(bus);
        const server = await startFleetTestServer({ stores, bus });
        deliver = (ids) => server.plane.delivery.deliver(ids);
        servers.push(server);
      }
      const [holder, publisher] = servers as [FleetTestServer, FleetTestServer];
      const { deviceToken } = await enrollScreen(holder, "pi-replica");
      const stream = openStream(holder.device(), deviceToken);
      expect((await stream.next()).message.case).toBe("welcome");
      stores.publishSources.setDefaultPlaylist("tenant-a", [
        { videoId: "v", sha256: "e".repeat(64), durationMs: 5000, sizeBytes: 1n, contentType: "video/mp4" },
      ]);
      await publisher.publish().publish({});
      const pushed = await stream.next();
      expect(pushed.message.case === "desiredState" && pushed.message.value.version).toBe(1n);
      stream.hangUp();
    } finally {
      for (const server of servers) await server.close();
      for (const bus of buses) await bus.stop();
      await database.drop();
    }
  });
});
