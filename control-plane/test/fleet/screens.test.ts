import { Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { enrollScreen } from "../lib/fleet-device.ts";
import { type FleetTestServer, startFleetTestServer } from "../lib/fleet-server.ts";

const codeOf = (error: unknown) => (error instanceof ConnectError ? error.code : undefined);

describe("screens and groups", () => {
  let server: FleetTestServer;

  beforeEach(async () => {
    server = await startFleetTestServer();
  });
  afterEach(() => server.close());

  it("edits a screen with its etag, and refuses a stale etag with ABORTED", async () => {
    const { deviceId } = await enrollScreen(server, "pi-1");
    const fleet = server.fleet();
    const { group } = await fleet.createGroup({ name: "Lobby" });
    const loaded = (await fleet.getScreen({ id: deviceId })).screen;
    const { screen } = await fleet.updateScreen({
      id: deviceId,
      etag: loaded?.etag ?? "",
      name: "Lobby left",
      groupId: group?.id ?? "",
      tags: ["Menu"],
      settings: { timezone: "Europe/Madrid", volumePercent: 40, orientation: Orientation.PORTRAIT },
    });
    expect(screen).toMatchObject({ name: "Lobby left", groupId: group?.id, tags: ["menu"] });
    expect(screen?.settings).toMatchObject({
      timezone: "Europe/Madrid",
      volumePercent: 40,
      orientation: Orientation.PORTRAIT,
    });
    expect(screen?.etag).not.toBe(loaded?.etag);
    await expect(fleet.updateScreen({ id: deviceId, etag: loaded?.etag ?? "", name: "Other" })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.Aborted,
    );
    await expect(
      fleet.updateScreen({ id: deviceId, etag: screen?.etag ?? "", name: "X", groupId: "no-such-group" }),
    ).rejects.toSatisfy((e) => codeOf(e) === Code.InvalidArgument);
    await expect(
      server.fleet("tenant-b").updateScreen({ id: deviceId, etag: screen?.etag ?? "", name: "Mine now" }),
    ).rejects.toSatisfy((e) => codeOf(e) === Code.NotFound);
  });

  it("counts screens per group and deletes only empty groups", async () => {
    const fleet = server.fleet();
    const { group } = await fleet.createGroup({ name: "Kitchen" });
    await expect(fleet.createGroup({ name: "Kitchen" })).rejects.toSatisfy((e) => codeOf(e) === Code.AlreadyExists);
    const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "kitchen", groupId: group?.id ?? "" });
    await server.device().register({ hardwareId: "pi-k", enrollmentKey });
    expect((await fleet.listGroups({})).groups).toEqual([expect.objectContaining({ name: "Kitchen", screenCount: 1 })]);
    await expect(fleet.deleteGroup({ id: group?.id ?? "" })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.FailedPrecondition,
    );
    await expect(server.fleet("tenant-b").deleteGroup({ id: group?.id ?? "" })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.NotFound,
    );
  });

  it("pages and filters the screen list", async () => {
    for (let i = 0; i < 5; i++) await enrollScreen(server, `pi-${i}`);
    const fleet = server.fleet();
    const first = await fleet.listScreens({ pageSize: 2 });
    expect(first.screens).toHaveLength(2);
    const second = await fleet.listScreens({ pageSize: 2, pageToken: first.nextPageToken });
    const third = await fleet.listScreens({ pageSize: 2, pageToken: second.nextPageToken });
    expect([...first.screens, ...second.screens, ...third.screens].map((s) => s.hardwareId).sort()).toEqual([
      "pi-0",
      "pi-1",
      "pi-2",
      "pi-3",
      "pi-4",
    ]);
    expect(third.nextPageToken).toBe("");
    expect((await fleet.listScreens({ query: "PI-3" })).screens.map((s) => s.hardwareId)).toEqual(["pi-3"]);
  });
});
