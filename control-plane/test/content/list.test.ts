import { ContentService } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp, type TestTenant } from "../lib/test-app.ts";

describe("ListVideos", () => {
  let app: TestApp;
  let tenant: TestTenant;

  beforeAll(async () => {
    app = await startTestApp();
    tenant = await app.createTenant("acme");
    const other = await app.createTenant("globex");
    // 250 rows for acme, 5 for globex, seeded directly: paging is about rows, not files.
    for (const [id, count] of [
      [tenant.id, 250],
      [other.id, 5],
    ] as const) {
      await app.db.orm.em.getConnection().execute(
        `insert into videos (id, tenant_id, sha256, size_bytes, duration_ms, codec, width, height, name, original_name,
           content_type, created_by, created_at)
         select gen_random_uuid(), ?, encode(sha256((? || i)::bytea), 'hex'), 1000, 5000, 'h264', 640, 360,
           case when i = 7 then '100% _special_' else 'clip ' || i end, 'clip.mp4', 'video/mp4', 'seed',
           now() - ((i / 2) || ' seconds')::interval
         from generate_series(1, ?) as i`,
        [id, id, count],
      );
    }
  });
  afterAll(async () => {
    await app?.close();
  });

  it("pages through every video of the tenant exactly once, newest first", async () => {
    const content = app.client(ContentService, tenant.tokens.viewer);
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const page = await content.listVideos({ pageSize: 100, pageToken: token });
      expect(page.totalCount).toBe(250);
      seen.push(...page.videos.map((v) => v.id));
      const times = page.videos.map((v) => Number(v.createdAt?.seconds));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
      token = page.nextPageToken;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(250);
  });

  it("filters by name without treating % and _ as wildcards", async () => {
    const content = app.client(ContentService, tenant.tokens.viewer);
    const special = await content.listVideos({ nameContains: "100% _SPECIAL" });
    expect(special.videos.map((v) => v.name)).toEqual(["100% _special_"]);
    expect((await content.listVideos({ nameContains: "%" })).totalCount).toBe(1);
  });

  it("refuses a forged page token and an oversized page", async () => {
    const content = app.client(ContentService, tenant.tokens.viewer);
    await expect(content.listVideos({ pageToken: "not-a-token" })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
    await expect(content.listVideos({ pageSize: 5000 })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});
