import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentHash, stampVersion } from "../../src/core/desired-state/index.ts";
import { desiredStateTableDdl, PgDesiredStateStore } from "../../src/fleet/publish/index.ts";
import { createTestDatabase, type TestDatabase } from "../lib/test-database.ts";

const at = (seconds: number) => timestampFromDate(new Date(seconds * 1000));
const documentFor = (screenId: string, label: string) => {
  const state = create(DesiredStateSchema, { screenId, defaultPlaylistId: label });
  state.contentHash = contentHash(state);
  return state;
};

describe("PgDesiredStateStore on PostgreSQL", () => {
  let database: TestDatabase;
  let pool: pg.Pool;
  let store: PgDesiredStateStore;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 10 });
    await pool.query(desiredStateTableDdl);
    store = new PgDesiredStateStore(pool);
  });
  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  const entryFor = (screenId: string, version: bigint, label: string) => {
    const state = stampVersion(documentFor(screenId, label), version, at(0));
    return { screenId, version, contentHash: state.contentHash, document: toBinary(DesiredStateSchema, state) };
  };

  it("inserts only the next version and reports the rest as lost races", async () => {
    expect(await store.insertMany([entryFor("s1", 1n, "p1")])).toEqual(new Set(["s1"]));
    expect((await store.latest("s1"))?.version).toBe(1n);
    expect(await store.insertMany([entryFor("s1", 1n, "p2")])).toEqual(new Set());
    expect(await store.insertMany([entryFor("s1", 2n, "p2")])).toEqual(new Set(["s1"]));
    expect((await store.latest("s1"))?.defaultPlaylistId).toBe("p2");
  });

  it("gives 50 concurrent writers strictly increasing versions with none lost", async () => {
    const writer = async (n: number) => {
      for (;;) {
        const previous = (await store.heads(["s50"])).get("s50")?.version ?? 0n;
        if ((await store.insertMany([entryFor("s50", previous + 1n, `revision-${n}`)])).has("s50")) return;
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, n) => writer(n)));
    const { rows } = await pool.query<{ version: string; content_hash: string }>(
      "SELECT version, content_hash FROM desired_state WHERE screen_id = 's50' ORDER BY version",
    );
    expect(rows.map((r) => Number(r.version))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.content_hash)).size).toBe(50);
  });

  it("stores a batch with one statement: each screen's next version once, even under 20 concurrent batches", async () => {
    const screens = Array.from({ length: 30 }, (_, n) => `batch-${n}`);
    const batchWriter = async (writer: number) => {
      let pending = screens;
      let rounds = 0;
      while (pending.length > 0) {
        rounds++;
        const heads = await store.heads(pending);
        const entries = pending.map((screenId) => {
          const version = (heads.get(screenId)?.version ?? 0n) + 1n;
          const state = stampVersion(documentFor(screenId, `writer-${writer}`), version, at(0));
          return {
            screenId,
            version,
            contentHash: state.contentHash,
            document: toBinary(DesiredStateSchema, state),
          };
        });
        const inserted = await store.insertMany(entries);
        pending = pending.filter((screenId) => !inserted.has(screenId));
      }
      return rounds;
    };
    await Promise.all(Array.from({ length: 20 }, (_, n) => batchWriter(n)));
    const { rows } = await pool.query<{ screen_id: string; versions: string[] }>(
      `SELECT screen_id, array_agg(version ORDER BY version) AS versions FROM desired_state
        WHERE screen_id LIKE 'batch-%' GROUP BY screen_id`,
    );
    expect(rows).toHaveLength(30);
    for (const row of rows) expect(row.versions.map(Number)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const heads = await store.heads(["batch-0", "nobody"]);
    expect(heads.get("batch-0")?.version).toBe(20n);
    expect(heads.has("nobody")).toBe(false);
    const encoded = await store.latestEncoded(["batch-0"]);
    const latest = fromBinary(DesiredStateSchema, encoded.get("batch-0") ?? new Uint8Array());
    expect(latest.version).toBe(20n);
    expect(latest.contentHash).toBe(heads.get("batch-0")?.contentHash);
  });

  it("returns the latest document only of screens whose stream has an older version, in one read", async () => {
    for (const version of [1n, 2n, 3n]) await store.insertMany([entryFor("n1", version, `n1-${version}`)]);
    await store.insertMany([entryFor("n2", 1n, "n2-1")]);
    const newer = await store.newerThan(
      new Map([
        ["n1", 1n],
        ["n2", 1n],
        ["n3", 0n],
      ]),
    );
    expect([...newer.keys()]).toEqual(["n1"]);
    expect(newer.get("n1")?.version).toBe(3n);
    const document = fromBinary(DesiredStateSchema, newer.get("n1")?.document ?? new Uint8Array());
    expect([document.version, document.defaultPlaylistId]).toEqual([3n, "n1-3"]);
    expect(await store.newerThan(new Map([["n1", 3n]]))).toEqual(new Map());
    expect(await store.newerThan(new Map())).toEqual(new Map());
  });

  it("refuses a batch entry that skips a version", async () => {
    const state = stampVersion(documentFor("gap", "p1"), 2n, at(0));
    const entry = {
      screenId: "gap",
      version: 2n,
      contentHash: state.contentHash,
      document: toBinary(DesiredStateSchema, state),
    };
    expect(await store.insertMany([entry])).toEqual(new Set());
    expect(await store.heads(["gap"])).toEqual(new Map());
  });
});
