import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startPingSweep } from "../../src/fleet/device/index.ts";
import { eventually } from "../lib/fleet-device.ts";

describe("the HTTP/2 ping sweep", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it("destroys a session whose peer stopped answering, and keeps a live one", async () => {
    const server = http2.createServer((_req, res) => {
      res.writeHead(200);
      res.write("open");
    });
    const serverSessions: http2.ServerHttp2Session[] = [];
    server.on("session", (session) => serverSessions.push(session));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    // A ping unanswered for timeoutMs kills the session. 1 s rather than less: the live client answers
    // from this same event loop, which a loaded machine can stall for a few hundred ms.
    const intervalMs = 100;
    const timeoutMs = 1000;
    const stop = startPingSweep(server, { intervalMs, timeoutMs });
    // A TCP relay we can freeze, to play a peer whose network vanished without a FIN.
    const sockets: net.Socket[] = [];
    const relay = net.createServer((client) => {
      const upstream = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
      client.pipe(upstream).pipe(client);
      sockets.push(client, upstream);
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => {
      stop();
      for (const socket of sockets) socket.destroy();
      relay.close();
      server.close();
    });

    const live = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const frozen = http2.connect(`http://127.0.0.1:${(relay.address() as AddressInfo).port}`);
    cleanups.push(() => {
      live.destroy();
      frozen.destroy();
    });
    for (const session of [live, frozen]) {
      const request = session.request({ ":path": "/" });
      await new Promise((resolve) => request.once("data", resolve));
    }
    expect(serverSessions).toHaveLength(2);
    for (const socket of sockets) socket.pause();
    for (const socket of sockets) socket.unpipe();

    // Sessions were opened one after the other: [0] is the live one, [1] the frozen one.
    await eventually(() => serverSessions[1]?.destroyed === true, 10_000);
    // The live session must outlast a whole ping deadline from here. Rather than sleeping and hoping
    // the sweep ran meanwhile, count the pings it gets: sweeps start at least intervalMs apart and
    // skip destroyed sessions, so a ping sent 11+ sweeps after the first one here comes after that
    // first ping's deadline has passed, and arrives only if the session was still alive.
    let pings = 0;
    live.on("ping", () => pings++);
    const sweepsPastADeadline = timeoutMs / intervalMs + 2;
    await eventually(() => pings >= sweepsPastADeadline, 10_000);
    expect(serverSessions[0]?.destroyed).toBe(false);
    expect(live.destroyed).toBe(false);
  });
});
