import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clipRecord } from "../lib/desired-state-records.ts";
import { enrollScreen, openStream } from "../lib/fleet-device.ts";
import type { MemoryPublishSources } from "../lib/fleet-memory-stores.ts";
import { type FleetTestServer, startFleetTestServer } from "../lib/fleet-server.ts";

const codeOf = (error: unknown) => (error instanceof ConnectError ? error.code : undefined);
const clip = clipRecord;

describe("publish", () => {
  let server: FleetTestServer;
  let sources: MemoryPublishSources;

  beforeEach(async () => {
    server = await startFleetTestServer();
    sources = server.stores.publishSources;
  });
  afterEach(() => server.close());

  it("bumps the version only when the content changed: publishing twice is a no-op", async () => {
    const { deviceId } = await enrollScreen(server, "pi-1");
    sources.setDefaultPlaylist("tenant-a", [clip("a")]);
    const first = await server.publish().publish({});
    expect(first.results[0]).toMatchObject({ screenId: deviceId, previousVersion: 0n, version: 1n, changed: true });
    expect(first.results[0]?.addedAssetSha256s).toEqual(["a".repeat(64)]);
    const second = await server.publish().publish({});
    expect(second.results[0]).toMatchObject({ previousVersion: 1n, version: 1n, changed: false });
    sources.setDefaultPlaylist("tenant-a", [clip("b")]);
    const dry = await server.publish().publish({ dryRun: true });
    expect(dry.results[0]).toMatchObject({ version: 2n, changed: true, removedAssetSha256s: ["a".repeat(64)] });
    expect(server.stores.desiredStates.versions.get(deviceId)).toHaveLength(1);
    const third = await server.publish().publish({ targets: [{ kind: { case: "screenId", value: deviceId } }] });
    expect(third.results[0]).toMatchObject({ version: 2n, changed: true });
    const { desiredState } = await server.publish().getDesiredState({ screenId: deviceId });
    expect(desiredState?.version).toBe(2n);
    await expect(server.publish("tenant-b").getDesiredState({ screenId: deviceId })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.NotFound,
    );
  });

  it("gives 50 concurrent publishes to one screen strictly increasing versions with none lost", async () => {
    const { deviceId } = await enrollScreen(server, "pi-2");
    // Every publish reads different content (as if an editor saved between them).
    let n = 0;
    const original = sources.forTenant.bind(sources);
    sources.forTenant = async (tenantId) => {
      sources.setDefaultPlaylist(tenantId, [clip("a")], `revision ${n++}`);
      return original(tenantId);
    };
    const responses = await Promise.all(Array.from({ length: 50 }, () => server.publish().publish({})));
    const versions = responses.map((r) => r.results[0]?.version ?? 0n).sort((a, b) => (a < b ? -1 : 1));
    expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
    const stored = server.stores.desiredStates.versions.get(deviceId) ?? [];
    expect(stored.map((s) => s.version)).toEqual(versions);
    expect(new Set(stored.map((s) => s.contentHash)).size).toBe(50);
    expect(server.stores.statuses.rows.get(deviceId)?.desiredVersion).toBe(50n);
  });

  it("publishes only to the targeted screens and pushes to those connected", async () => {
    const a = await enrollScreen(server, "pi-a");
    const b = await enrollScreen(server, "pi-b");
    sources.setDefaultPlaylist("tenant-a", [clip("c")]);
    const stream = openStream(server.device(), a.deviceToken);
    await stream.next();
    const { results } = await server
      .publish()
      .publish({ targets: [{ kind: { case: "screenId", value: a.deviceId } }] });
    expect(results.map((r) => r.screenId)).toEqual([a.deviceId]);
    const pushed = await stream.next();
    expect(pushed.message.case === "desiredState" && pushed.message.value.assets[0]?.url).toBe(
      `/assets/${"c".repeat(64)}`,
    );
    expect(server.stores.desiredStates.versions.has(b.deviceId)).toBe(false);
    stream.hangUp();
  });

  it("refuses viewers and empty targets", async () => {
    await expect(server.publish("tenant-a", "viewer").publish({})).rejects.toSatisfy(
      (e) => codeOf(e) === Code.PermissionDenied,
    );
    await expect(server.publish().publish({ targets: [{}] })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.InvalidArgument,
    );
  });
});
