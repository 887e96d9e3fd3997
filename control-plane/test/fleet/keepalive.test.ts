import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startPingSweep } from "../../src/device/index.ts";
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
    const stop = startPingSweep(server, { intervalMs: 100, timeoutMs: 300 });
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
    await eventually(() => serverSessions[1]?.destroyed === true, 3000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(serverSessions[0]?.destroyed).toBe(false);
    expect(live.destroyed).toBe(false);
  });
});
