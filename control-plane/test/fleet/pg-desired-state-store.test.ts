import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contentHash, stampVersion } from "../../src/desired-state/index.ts";
import { desiredStateTableDdl, PgDesiredStateStore } from "../../src/publish/index.ts";
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

  it("inserts the next version, skips an unchanged document and reports a stale expectation", async () => {
    const first = stampVersion(documentFor("s1", "p1"), 1n, at(1));
    expect(await store.insertIfChanged("s1", 0n, first)).toBe("inserted");
    expect((await store.latest("s1"))?.version).toBe(1n);
    expect(await store.insertIfChanged("s1", 1n, stampVersion(first, 2n, at(2)))).toBe("unchanged");
    const changed = stampVersion(documentFor("s1", "p2"), 1n, at(3));
    expect(await store.insertIfChanged("s1", 0n, changed)).toBe("conflict");
    expect(await store.insertIfChanged("s1", 1n, stampVersion(changed, 2n, at(3)))).toBe("inserted");
    expect((await store.latest("s1"))?.defaultPlaylistId).toBe("p2");
  });

  it("gives 50 concurrent writers strictly increasing versions with none lost", async () => {
    const writer = async (n: number) => {
      const document = documentFor("s50", `revision-${n}`);
      for (;;) {
        const previous = (await store.latest("s50"))?.version ?? 0n;
        const outcome = await store.insertIfChanged("s50", previous, stampVersion(document, previous + 1n, at(0)));
        if (outcome !== "conflict") return outcome;
      }
    };
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, n) => writer(n)));
    expect(outcomes.every((o) => o === "inserted")).toBe(true);
    const { rows } = await pool.query<{ version: string; content_hash: string }>(
      "SELECT version, content_hash FROM desired_state WHERE screen_id = 's50' ORDER BY version",
    );
    expect(rows.map((r) => Number(r.version))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.content_hash)).size).toBe(50);
  });
});
