import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../test/lib/fake-clock.ts";
import { createMpvIpc, MpvCommandError, type MpvEvent, MpvIpcClosedError, MpvIpcTimeoutError } from "./ipc.ts";

/** The player's end of a connection whose other end the test plays as mpv. */
function fakeMpvConnection() {
  const written: string[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString("utf8"));
      callback();
    },
  });
  const requests = () => written.map((line) => JSON.parse(line) as { command: unknown[]; request_id: number });
  return { stream, requests, send: (text: string) => stream.push(text) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("createMpvIpc", () => {
  it("matches a reply split across two reads to its request", async () => {
    const conn = fakeMpvConnection();
    const ipc = createMpvIpc(conn.stream, new FakeClock(new Date(0)));
    const reply = ipc.command(["get_property", "playlist"]);
    const id = conn.requests()[0]?.request_id;
    conn.send(`{"data":[{"filename":"/media/a.mp4",`);
    await tick();
    conn.send(`"current":true}],"request_id":${id},"error":"success"}\n`);
    await expect(reply).resolves.toEqual([{ filename: "/media/a.mp4", current: true }]);
  });

  it("delivers several messages from one read in order", async () => {
    const conn = fakeMpvConnection();
    const ipc = createMpvIpc(conn.stream, new FakeClock(new Date(0)));
    const events: MpvEvent[] = [];
    ipc.onEvent((event) => events.push(event));
    const a = ipc.command(["get_property", "time-pos"]);
    const b = ipc.command(["get_property", "volume"]);
    const [first, second] = conn.requests();
    conn.send(
      `{"event":"end-file","reason":"eof","playlist_entry_id":1}\n` +
        `{"data":100,"request_id":${second?.request_id},"error":"success"}\n` +
        `{"data":1.5,"request_id":${first?.request_id},"error":"success"}\n`,
    );
    await expect(a).resolves.toBe(1.5);
    await expect(b).resolves.toBe(100);
    expect(events).toEqual([{ event: "end-file", reason: "eof", playlist_entry_id: 1 }]);
  });

  it("rejects with MpvCommandError when mpv refuses a command", async () => {
    const conn = fakeMpvConnection();
    const ipc = createMpvIpc(conn.stream, new FakeClock(new Date(0)));
    const reply = ipc.command(["get_property", "time-pos"]);
    conn.send(`{"request_id":${conn.requests()[0]?.request_id},"error":"property unavailable"}\n`);
    await expect(reply).rejects.toBeInstanceOf(MpvCommandError);
  });

  it("times out when mpv does not answer (a hung or stopped mpv)", async () => {
    const conn = fakeMpvConnection();
    const clock = new FakeClock(new Date(0));
    const ipc = createMpvIpc(conn.stream, clock);
    const reply = ipc.command(["get_property", "time-pos"], 2_000);
    const settled = expect(reply).rejects.toBeInstanceOf(MpvIpcTimeoutError);
    await clock.advance(1_999);
    expect(clock.pending).toBe(1);
    await clock.advance(1);
    await settled;
  });

  it("rejects pending commands when the connection closes, and later ones at once", async () => {
    const conn = fakeMpvConnection();
    const ipc = createMpvIpc(conn.stream, new FakeClock(new Date(0)));
    const reply = ipc.command(["get_property", "time-pos"]);
    conn.stream.destroy();
    await expect(reply).rejects.toBeInstanceOf(MpvIpcClosedError);
    await expect(ipc.command(["quit"])).rejects.toBeInstanceOf(MpvIpcClosedError);
  });

  it("skips a corrupt line instead of throwing", async () => {
    const conn = fakeMpvConnection();
    const ipc = createMpvIpc(conn.stream, new FakeClock(new Date(0)));
    const reply = ipc.command(["get_property", "volume"]);
    conn.send(`{not json\n{"data":50,"request_id":${conn.requests()[0]?.request_id},"error":"success"}\n`);
    await expect(reply).resolves.toBe(50);
  });
});
