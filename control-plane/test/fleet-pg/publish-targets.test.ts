import { randomUUID } from "node:crypto";
import type { PublishRequest } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PgFleetStores } from "../../src/fleet/pg/index.ts";
import { enrollScreen } from "../lib/fleet-device.ts";
import type { FleetTestServer } from "../lib/fleet-server.ts";
import { openPgFleetDatabase, type PgFleetDatabase } from "./pg-fleet.ts";

type PublishInit = MessageInitShape<GenMessage<PublishRequest>>;

/** The error a publish answered with; fails the test when it answered OK. */
async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const outcome = await call.then(
    (response) => ({ response }),
    (error: unknown) => ({ error }),
  );
  if ("response" in outcome)
    throw new Error(
      `expected a refusal, got OK: ${JSON.stringify(outcome.response, (_, v) => (typeof v === "bigint" ? String(v) : v))}`,
    );
  expect(outcome.error).toBeInstanceOf(ConnectError);
  return outcome.error as ConnectError;
}

// Issue 17: a publish to a target outside the caller's tenant answered OK with a publishedAt and
// published nothing; now it is NOT_FOUND naming the id, as every other RPC answers for such ids.
describe("Publish resolves its targets in the caller's tenant (PostgreSQL)", () => {
  let pgf: PgFleetDatabase;
  let server: FleetTestServer<PgFleetStores>;
  let a: string;
  let b: string;
  let screenOfA: string;
  let screenOfB: string;
  let groupOfA: string;

  beforeAll(async () => {
    pgf = await openPgFleetDatabase();
    server = await pgf.server();
    a = await pgf.tenant("targets-a");
    b = await pgf.tenant("targets-b");
    screenOfA = (await enrollScreen(server, "pi-targets-a", a)).deviceId;
    screenOfB = (await enrollScreen(server, "pi-targets-b", b)).deviceId;
    groupOfA = (await server.fleet(a).createGroup({ name: "lobby" })).group?.id ?? "";
    await server.fleet(a).updateScreen({
      id: screenOfA,
      etag: (await server.fleet(a).getScreen({ id: screenOfA })).screen?.etag ?? "",
      name: "A lobby",
      groupId: groupOfA,
    });
    await pgf.defaultPlaylist(a, ["a".repeat(64)]);
    await pgf.defaultPlaylist(b, ["b".repeat(64)]);
  });
  afterAll(() => pgf.close());

  const versionsOf = async (screenId: string) =>
    (await pgf.pool.query("SELECT version FROM desired_state WHERE screen_id = $1", [screenId])).rowCount;

  for (const dryRun of [false, true]) {
    const mode = dryRun ? "dry run" : "publish";

    it(`${mode}: another tenant's screen id is NOT_FOUND naming it, and nothing is published`, async () => {
      const error = await refusal(
        server.publish(b).publish({ dryRun, targets: [{ kind: { case: "screenId", value: screenOfA } }] }),
      );
      expect(error.code).toBe(Code.NotFound);
      expect(error.rawMessage).toBe(`no screen ${screenOfA} in your tenant`);
      expect(await versionsOf(screenOfA)).toBe(0);
    });

    it(`${mode}: another tenant's group id and an unknown group id are NOT_FOUND naming them`, async () => {
      for (const groupId of [groupOfA, randomUUID(), "not-a-uuid"]) {
        const error = await refusal(
          server.publish(b).publish({ dryRun, targets: [{ kind: { case: "groupId", value: groupId } }] }),
        );
        expect(error.code).toBe(Code.NotFound);
        expect(error.rawMessage).toBe(`no group ${groupId} in your tenant`);
      }
      expect(await versionsOf(screenOfA)).toBe(0);
    });

    it(`${mode}: one foreign target among the caller's own refuses the whole publish`, async () => {
      const targets: PublishInit["targets"] = [
        { kind: { case: "screenId", value: screenOfB } },
        { kind: { case: "screenId", value: screenOfA } },
      ];
      const error = await refusal(server.publish(b).publish({ dryRun, targets }));
      expect(error.code).toBe(Code.NotFound);
      expect(error.rawMessage).toContain(screenOfA);
      expect(await versionsOf(screenOfB)).toBe(0);
    });
  }

  it("still publishes to the caller's own screen and group (the check refuses only foreign ids)", async () => {
    const dry = await server
      .publish(a)
      .publish({ dryRun: true, targets: [{ kind: { case: "groupId", value: groupOfA } }] });
    expect(dry.results.map((r) => [r.screenId, r.changed])).toEqual([[screenOfA, true]]);
    const { results } = await server
      .publish(a)
      .publish({ targets: [{ kind: { case: "screenId", value: screenOfA } }] });
    expect(results.map((r) => [r.screenId, r.version])).toEqual([[screenOfA, 1n]]);
    expect(await versionsOf(screenOfA)).toBe(1);
  });

  it("an existing group with no screens is a valid target that selects none", async () => {
    const empty = (await server.fleet(b).createGroup({ name: "empty" })).group?.id ?? "";
    const { results, publishedAt } = await server
      .publish(b)
      .publish({ targets: [{ kind: { case: "groupId", value: empty } }] });
    expect(results).toEqual([]);
    expect(publishedAt).toBeDefined();
  });
});
