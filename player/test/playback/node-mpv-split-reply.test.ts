import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Why playback has its own JSON-IPC client instead of node-mpv 1.5.0 (see player/README.md,
 * "Playback"): node-mpv parses every socket read as whole lines, so a reply that arrives in two
 * reads (any reply that straddles a read boundary, e.g. a long `playlist`) throws inside its "data" handler,
 * which in a running player is an uncaught exception that kills the process.
 */
describe("node-mpv 1.5.0", () => {
  it("throws on an mpv reply split across two socket reads", async () => {
    const dir = await mkdtemp(join(tmpdir(), "avtech-node-mpv-"));
    const path = join(dir, "mpv.sock");
    const accepted = new Promise<Socket>((resolve) => {
      const server = createServer(resolve);
      server.listen(path);
      server.unref();
    });
    const IpcInterface = createRequire(import.meta.url)("node-mpv/lib/ipcInterface.js") as new (options: {
      socket: string;
    }) => { socket: Socket };
    const ipc = new IpcInterface({ socket: path });
    const serverSide = await accepted;
    try {
      // Call its "data" handler with exactly what two reads would deliver, so the exception is
      // caught here rather than crashing the test process.
      const [onData] = ipc.socket.listeners("data") as ((data: Buffer) => void)[];
      expect(onData).toBeTypeOf("function");
      expect(() => onData?.(Buffer.from('{"data":[{"filename":"/media/a.mp4",'))).toThrow(SyntaxError);
      expect(() => onData?.(Buffer.from('"current":true}],"request_id":1,"error":"success"}\n'))).toThrow(SyntaxError);
    } finally {
      // Its "close" handler reconnects forever: remove it before closing.
      ipc.socket.removeAllListeners("close");
      ipc.socket.destroy();
      serverSide.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
