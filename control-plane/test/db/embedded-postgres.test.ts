import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
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
