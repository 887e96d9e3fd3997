import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort, startEmbeddedPostgres } from "../../src/platform/db/embedded-postgres.ts";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "avtech-embedded-pg-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("embedded PostgreSQL", () => {
  it("keeps its data across a stop and a start, in UTF8 whatever the caller's locale", async () => {
    const dataDir = join(root, "kept");
    const first = await startEmbeddedPostgres({ dataDir });
    await query(first.url, "create table kept (note text); insert into kept values ('écran')");
    await first.stop();
    const second = await startEmbeddedPostgres({ dataDir });
    try {
      expect(await query(second.url, "select note from kept")).toEqual([{ note: "écran" }]);
      expect(await query(second.url, "show server_encoding")).toEqual([{ server_encoding: "UTF8" }]);
    } finally {
      await second.stop();
    }
  });

  it("stops when the process that started it is killed, so a killed test run leaves no server behind", async () => {
    const port = await findFreePort();
    const module = join(import.meta.dirname, "../../src/platform/db/embedded-postgres.ts");
    const script = `const { startEmbeddedPostgres } = await import(${JSON.stringify(module)});
      await startEmbeddedPostgres({ dataDir: ${JSON.stringify(join(root, "orphan"))}, port: ${port} });
      console.log("ready"); setInterval(() => {}, 1000);`;
    const starter = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      starter.stdout?.on("data", (chunk: Buffer) => String(chunk).includes("ready") && resolve());
      starter.once("exit", (code) => reject(new Error(`the starter exited with code ${code}`)));
    });
    expect(await accepts(port)).toBe(true);
    starter.kill("SIGKILL");
    const deadline = Date.now() + 15_000;
    while ((await accepts(port)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await accepts(port)).toBe(false);
  });

  it("says which port and data folder, with PostgreSQL's own reason, when the port is taken", async () => {
    const port = await findFreePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", resolve));
    try {
      const dataDir = join(root, "port-taken");
      await expect(startEmbeddedPostgres({ dataDir, port })).rejects.toThrow(
        new RegExp(`did not start \\(data in ${dataDir}, port ${port}\\):[\\s\\S]*(could not bind|in use)`),
      );
    } finally {
      blocker.close();
    }
  });
});
