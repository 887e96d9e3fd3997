import { randomUUID } from "node:crypto";
import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type {
  CommandRecord,
  CommandStore,
  ScreenCursor,
  ScreenPageQuery,
  ScreenRecord,
  ScreenStore,
} from "../../src/fleet/fleet/index.ts";
import { PgCommandStore, PgGroupStore, PgScreenStore } from "../../src/fleet/pg/index.ts";
import { encodeScreenSettings } from "../../src/platform/db/screen-settings.ts";
import { compareScreenOrder, MemoryCommandStore, MemoryScreenStore } from "../lib/fleet-memory-stores.ts";
import { openPgFleetDatabase, type PgFleetDatabase } from "./pg-fleet.ts";
import { screenRecord as anyScreenRecord } from "./store-contract.ts";

/** The stores under test and how to make the rows they refer to (tenants, groups). */
interface StoreHarness {
  screens: ScreenStore;
  commands: CommandStore;
  tenant(slug: string): Promise<string>;
  group(tenantId: string, name: string): Promise<string>;
  close(): Promise<void>;
}

async function memoryHarness(): Promise<StoreHarness> {
  return {
    screens: new MemoryScreenStore(),
    commands: new MemoryCommandStore(),
    tenant: async () => randomUUID(),
    group: async () => randomUUID(),
    close: async () => undefined,
  };
}

async function postgresHarness(): Promise<StoreHarness> {
  const pgf = await openPgFleetDatabase();
  const groups = new PgGroupStore(pgf.pool);
  return {
    screens: new PgScreenStore(pgf.pool),
    commands: new PgCommandStore(pgf.pool),
    tenant: (slug) => pgf.tenant(`${slug}-${randomUUID().slice(0, 8)}`),
    group: async (tenantId, name) => {
      const id = randomUUID();
      if (!(await groups.create({ id, tenantId, name }))) throw new Error(`group ${name} exists`);
      return id;
    },
    close: () => pgf.close(),
  };
}

let hardwareIds = 0;
const at = new Date("2026-12-01T00:00:00Z");
/** A screen with a numbered hardware id (text filters match hardware ids, so random ones would match by chance). */
const screenRecord = (tenantId: string, fields: Partial<ScreenRecord> = {}): ScreenRecord =>
  anyScreenRecord(tenantId, { hardwareId: `hw-${++hardwareIds}`, ...fields });

const query = (fields: Partial<ScreenPageQuery> = {}): ScreenPageQuery => ({
  text: "",
  groupId: "",
  after: undefined,
  limit: 100,
  ...fields,
});

/** Every page of `query`, following `more` and the last screen's position. */
async function allPages(store: ScreenStore, tenantId: string, fields: Partial<ScreenPageQuery>) {
  const pages: ScreenRecord[][] = [];
  let after: ScreenCursor | undefined;
  for (;;) {
    const { screens, more } = await store.page(tenantId, query({ ...fields, after }));
    pages.push(screens);
    const last = screens.at(-1);
    if (!more || !last) return pages;
    after = last;
  }
}

describe.each([
  ["in memory", memoryHarness],
  ["on PostgreSQL", postgresHarness],
])("the screen store %s", (_kind, open) => {
  let stores: StoreHarness;
  let tenant: string;
  let other: string;
  /** Creates screens in `tenantId`; returns them in creation order. */
  const seed = async (tenantId: string, fields: Array<Partial<ScreenRecord>>) => {
    const records = fields.map((f) => screenRecord(tenantId, f));
    for (const record of records) await stores.screens.create(record);
    return records;
  };
  const names = (screens: readonly ScreenRecord[]) => screens.map((s) => s.name);

  beforeAll(async () => {
    stores = await open();
  });
  afterAll(() => stores.close());
  // Each test has tenants of its own, so what one test seeds never shows up in another's list.
  beforeEach(async () => {
    tenant = await stores.tenant("mine");
    other = await stores.tenant("other");
  });

  it("lists by name in code-point order (then id), and never another tenant's screens", async () => {
    const all = ["b", "B", "a", "Ä", "a", "Z", "😀", "\u{FB00}", "a b", "a%", "zz"];
    const mine = await seed(
      tenant,
      all.map((name) => ({ name })),
    );
    await seed(
      other,
      all.map((name) => ({ name })),
    );
    const { screens, more } = await stores.screens.page(tenant, query());
    // Code-point order (PostgreSQL COLLATE "C"): upper case before lower case, a prefix before its
    // extensions, U+FB00 before U+1F600 (UTF-16 code units would put the emoji's surrogates first).
    expect(names(screens)).toEqual(["B", "Z", "a", "a", "a b", "a%", "b", "zz", "Ä", "\u{FB00}", "😀"]);
    const twins = mine.filter((s) => s.name === "a").map((s) => s.id);
    expect(screens.filter((s) => s.name === "a").map((s) => s.id)).toEqual(twins.sort());
    expect(more).toBe(false);
    expect(new Set(screens.map((s) => s.tenantId))).toEqual(new Set([tenant]));
    expect(screens.find((s) => s.name === "b")).toEqual(mine.find((s) => s.name === "b"));
    expect((await stores.screens.page(await stores.tenant("empty"), query())).screens).toEqual([]);
    expect(await stores.screens.page("not-a-tenant-id", query())).toEqual({ screens: [], more: false });
  });

  it("pages from a position: every screen once, `more` only while one follows, deletions shift nothing", async () => {
    await seed(
      tenant,
      ["g", "a", "e", "c", "f", "b", "d"].map((name) => ({ name })),
    );
    await seed(other, [{ name: "bb" }, { name: "0" }]);
    const pages = await allPages(stores.screens, tenant, { limit: 3 });
    expect(pages.map(names)).toEqual([["a", "b", "c"], ["d", "e", "f"], ["g"]]);
    // A limit that divides the count: the last full page says there is no more.
    const exact = await stores.screens.page(tenant, query({ limit: 7 }));
    expect([exact.screens.length, exact.more]).toEqual([7, false]);
    expect((await stores.screens.page(tenant, query({ limit: 6 }))).more).toBe(true);
    // The position of a screen deleted after its page was listed still says where the next page starts.
    const [first] = pages;
    const lastOfFirst = first?.at(-1);
    if (!lastOfFirst) throw new Error("no first page");
    expect(await stores.screens.delete(tenant, lastOfFirst.id)).toBe(true);
    const next = await stores.screens.page(tenant, query({ limit: 3, after: lastOfFirst }));
    expect(names(next.screens)).toEqual(["d", "e", "f"]);
    // A position between two names, and one after the end.
    const between = { name: "cz", id: "00000000-0000-0000-0000-000000000000" };
    expect(names((await stores.screens.page(tenant, query({ after: between }))).screens)).toEqual(["d", "e", "f", "g"]);
    const end = { name: "g", id: "ffffffff-ffff-ffff-ffff-ffffffffffff" };
    expect(await stores.screens.page(tenant, query({ after: end }))).toEqual({ screens: [], more: false });
  });

  it("filters by name, hardware id or tag, ignoring case, with %, _ and \\ as plain characters", async () => {
    await seed(tenant, [
      { name: "Lobby left", hardwareId: "pi-a1", tags: ["menu"] },
      { name: "Kitchen", hardwareId: "LOBBY-PI" },
      { name: "Office", hardwareId: "pi-a3", tags: ["lobby", "upstairs"] },
      { name: "100% Café", hardwareId: "pi_a4" },
      { name: "Back\\slash", hardwareId: "pi-a5" },
      { name: "ÉCOLE", hardwareId: "pi-a6" },
      { name: "Plain", hardwareId: "pi-a7" },
    ]);
    await seed(other, [{ name: "Lobby elsewhere", tags: ["lobby"] }]);
    const matching = async (text: string) => names((await stores.screens.page(tenant, query({ text }))).screens);
    expect(await matching("lobby")).toEqual(["Kitchen", "Lobby left", "Office"]);
    expect(await matching("LoBbY")).toEqual(["Kitchen", "Lobby left", "Office"]);
    expect(await matching("UPSTAIRS")).toEqual(["Office"]);
    expect(await matching("%")).toEqual(["100% Café"]);
    expect(await matching("_")).toEqual(["100% Café"]);
    expect(await matching("\\")).toEqual(["Back\\slash"]);
    expect(await matching("pi-a")).toEqual(["Back\\slash", "Lobby left", "Office", "Plain", "ÉCOLE"]);
    // Case folding covers more than ASCII, whatever the database's own collation.
    expect(await matching("café")).toEqual(["100% Café"]);
    expect(await matching("école")).toEqual(["ÉCOLE"]);
    expect(await matching("\0")).toEqual([]);
    expect(await matching("nowhere")).toEqual([]);
  });

  it("filters by group, alone or with text, before the limit; an unknown or malformed group matches none", async () => {
    const lobby = await stores.group(tenant, "Lobby");
    const kitchen = await stores.group(tenant, "Kitchen");
    const theirs = await stores.group(other, "Lobby");
    await seed(
      tenant,
      Array.from({ length: 10 }, (_, i) => ({
        name: `s${i}`,
        groupId: i % 2 === 0 ? lobby : i % 3 === 0 ? kitchen : "",
        tags: i % 4 === 0 ? ["menu"] : [],
      })),
    );
    await seed(other, [{ name: "s0", groupId: theirs }]);
    const pages = await allPages(stores.screens, tenant, { groupId: lobby, limit: 2 });
    expect(pages.map(names)).toEqual([["s0", "s2"], ["s4", "s6"], ["s8"]]);
    expect(names((await stores.screens.page(tenant, query({ groupId: kitchen }))).screens)).toEqual(["s3", "s9"]);
    const both = await allPages(stores.screens, tenant, { groupId: lobby, text: "MENU", limit: 1 });
    expect(both.map(names)).toEqual([["s0"], ["s4"], ["s8"]]);
    expect((await stores.screens.page(tenant, query({ groupId: theirs }))).screens).toEqual([]);
    expect((await stores.screens.page(tenant, query({ groupId: randomUUID() }))).screens).toEqual([]);
    expect((await stores.screens.page(tenant, query({ groupId: "no-such-group" }))).screens).toEqual([]);
  });

  it("reads many screens at once, leaving out other tenants', unknown and malformed ids", async () => {
    const [a, b] = await seed(tenant, [{ name: "a", tags: ["x", "y"] }, { name: "b" }]);
    const [theirs] = await seed(other, [{ name: "c" }]);
    if (!a || !b || !theirs) throw new Error("seeding failed");
    const found = await stores.screens.getMany(tenant, [b.id, theirs.id, randomUUID(), "not-a-uuid", a.id]);
    expect([...found.keys()].sort()).toEqual([a.id, b.id].sort());
    expect(found.get(a.id)).toEqual(a);
    expect(await stores.screens.getMany(tenant, [])).toEqual(new Map());
    expect(await stores.screens.getMany("not-a-tenant-id", [a.id])).toEqual(new Map());
  });

  it("reads many commands at once, leaving out other tenants', unknown and malformed ids", async () => {
    const [mine] = await seed(tenant, [{ name: "a" }]);
    const [theirs] = await seed(other, [{ name: "b" }]);
    if (!mine || !theirs) throw new Error("seeding failed");
    const command = (tenantId: string, screenId: string): CommandRecord => ({
      id: randomUUID(),
      tenantId,
      screenId,
      kind: CommandKind.IDENTIFY,
      identifySeconds: 10,
      issuedAt: at,
      expiresAt: new Date(at.getTime() + 60_000),
      issuedBy: "tester",
      status: CommandStatus.QUEUED,
      resultMessage: "",
      completedAt: undefined,
      hasScreenshot: false,
    });
    const [one, two, foreign] = [command(tenant, mine.id), command(tenant, mine.id), command(other, theirs.id)];
    await stores.commands.insert([one, two, foreign]);
    const found = await stores.commands.getMany(tenant, [one.id, foreign.id, two.id, randomUUID(), "nope"]);
    expect([...found.keys()].sort()).toEqual([one.id, two.id].sort());
    expect(found.get(one.id)).toEqual(one);
  });
});

/** The nearest-rank percentile `p` (0..100) of `values`. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

describe("ListScreens paging 10,000 screens of one tenant on PostgreSQL", () => {
  const count = 10_000;
  let pgf: PgFleetDatabase;
  let tenant: string;
  let expected: ScreenRecord[];
  let groups: string[];

  /** Inserts `records` with their device rows and tags in three statements (the store inserts one by one). */
  const insertMany = async (records: readonly ScreenRecord[]) => {
    const column = <K extends keyof ScreenRecord>(key: K) => records.map((record) => record[key]);
    await pgf.pool.query(
      `INSERT INTO screens (id, tenant_id, name, hardware_id, group_id, timezone, settings, created_at, claimed_at)
       SELECT id, tenant_id, name, hardware_id, group_id, 'UTC', settings, $7, $7
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::jsonb[])
           AS t(id, tenant_id, name, hardware_id, group_id, settings)`,
      [
        column("id"),
        column("tenantId"),
        column("name"),
        column("hardwareId"),
        records.map((record) => record.groupId || null),
        records.map((record) => JSON.stringify(encodeScreenSettings(record))),
        at,
      ],
    );
    await pgf.pool.query(
      `INSERT INTO screen_devices (screen_id, first_seen_at) SELECT id, $2 FROM unnest($1::uuid[]) AS id`,
      [column("id"), at],
    );
    const tagged = records.flatMap((record) => record.tags.map((tag) => ({ record, tag })));
    await pgf.pool.query(
      `INSERT INTO screen_tags (id, tenant_id, screen_id, tag)
       SELECT gen_random_uuid(), tenant_id, screen_id, tag FROM unnest($1::uuid[], $2::uuid[], $3::text[])
         AS t(tenant_id, screen_id, tag)`,
      [tagged.map((t) => t.record.tenantId), tagged.map((t) => t.record.id), tagged.map((t) => t.tag)],
    );
  };

  beforeAll(async () => {
    pgf = await openPgFleetDatabase();
    tenant = await pgf.tenant("big");
    const other = await pgf.tenant("neighbour");
    const groupStore = new PgGroupStore(pgf.pool);
    groups = [];
    for (const name of ["North", "South", "East", "West"]) {
      const id = randomUUID();
      await groupStore.create({ id, tenantId: tenant, name });
      groups.push(id);
    }
    const theirGroup = randomUUID();
    await groupStore.create({ id: theirGroup, tenantId: other, name: "North" });
    // Names repeat (ids break the tie), mix case and leave ASCII; a fifth are "lobby" by name,
    // hardware id or tag.
    const shapes = ["Lobby", "lobby", "Kitchen", "Ätrium", "Office", "office", "Hall", "Café"];
    const screen = (tenantId: string, i: number, groupId: string) =>
      screenRecord(tenantId, {
        name: `${shapes[i % shapes.length]} ${(i * 7919) % 1500}`,
        hardwareId: i % 10 === 3 ? `LOBBY-${i}` : `pi-${i}`,
        groupId,
        tags: i % 10 === 5 ? ["lobby", "menu"] : i % 10 === 6 ? ["menu"] : [],
      });
    expected = Array.from({ length: count }, (_, i) => screen(tenant, i, groups[i % groups.length] ?? ""));
    // The neighbour's screens share names, tags and hardware-id shapes: any leak would match the filters.
    const theirs = Array.from({ length: 500 }, (_, i) => screen(other, i, i % 2 === 0 ? theirGroup : ""));
    for (let i = 0; i < expected.length; i += 2500) await insertMany(expected.slice(i, i + 2500));
    await insertMany(theirs);
    await pgf.pool.query("ANALYZE screens");
    await pgf.pool.query("ANALYZE screen_tags");
    expected.sort(compareScreenOrder);
  });
  afterAll(() => pgf.close());

  /** Pages through `fields` with the store; the ids in page order and each page query's milliseconds. */
  const walk = async (fields: Partial<ScreenPageQuery>) => {
    const store = new PgScreenStore(pgf.pool);
    const ids: string[] = [];
    const millis: number[] = [];
    let after: ScreenCursor | undefined;
    for (;;) {
      const started = performance.now();
      const { screens, more } = await store.page(tenant, query({ ...fields, after }));
      millis.push(performance.now() - started);
      ids.push(...screens.map((s) => s.id));
      const last = screens.at(-1);
      if (!more || !last) return { ids, millis };
      after = last;
    }
  };
  /** What the text filter means, in JavaScript (the port's contract). */
  const matches = (s: ScreenRecord, text: string) =>
    s.name.toLowerCase().includes(text) ||
    s.hardwareId.toLowerCase().includes(text) ||
    s.tags.some((tag) => tag.includes(text));
  const report = (label: string, millis: readonly number[]) =>
    `${label}: ${millis.length} page queries, p50 ${percentile(millis, 50).toFixed(2)} ms, ` +
    `p99 ${percentile(millis, 99).toFixed(2)} ms, max ${Math.max(...millis).toFixed(2)} ms`;

  it("returns every screen once, in order, 100 per page, and only the tenant's", async ({ annotate }) => {
    await walk({ limit: 100 }); // warm-up: the first pass reads the table into shared buffers
    const { ids, millis } = await walk({ limit: 100 });
    expect(ids).toHaveLength(count);
    expect(new Set(ids).size).toBe(count);
    expect(ids).toEqual(expected.map((s) => s.id));
    const line = report("all 10,000", millis);
    console.log(line);
    await annotate(line);
  });

  it("returns every match of a text filter once and in order, and of a group filter with text", async ({
    annotate,
  }) => {
    const lines: string[] = [];
    for (const fields of [
      { text: "LOBBY" },
      { text: "lobby", groupId: groups[1] ?? "" },
      { groupId: groups[2] ?? "" },
    ]) {
      const want = expected
        .filter((s) => !fields.text || matches(s, fields.text.toLowerCase()))
        .filter((s) => !fields.groupId || s.groupId === fields.groupId)
        .map((s) => s.id);
      expect(want.length).toBeGreaterThan(300);
      await walk({ ...fields, limit: 100 });
      const { ids, millis } = await walk({ ...fields, limit: 100 });
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(want);
      lines.push(report(fields.groupId ? `group${fields.text ? " + text" : ""}` : "text", millis));
    }
    console.log(lines.join("\n"));
    await annotate(lines.join("; "));
  });

  it("pages the same list through ListScreens with the page tokens it hands out", async () => {
    const server = await pgf.server();
    const fleet = server.fleet(tenant);
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await fleet.listScreens({ pageSize: 1000, pageToken, query: "lobby" });
      ids.push(...page.screens.map((s) => s.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(ids).toEqual(expected.filter((s) => matches(s, "lobby")).map((s) => s.id));
    await expect(fleet.listScreens({ pageToken: "100" })).rejects.toSatisfy(
      (e) => e instanceof ConnectError && e.code === Code.InvalidArgument,
    );
  });
});
