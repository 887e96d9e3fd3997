import { CommandKind, CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import { Orientation } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
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
    ).rejects.toSatisfy((e) => codeOf(e) === Code.NotFound);
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

  it("refuses a page_token it did not hand out", async () => {
    const fleet = server.fleet();
    const forged = Buffer.from(JSON.stringify(["pi-1", "not-a-uuid"])).toString("base64url");
    for (const pageToken of ["2", "not a token", forged]) {
      await expect(fleet.listScreens({ pageToken })).rejects.toSatisfy((e) => codeOf(e) === Code.InvalidArgument);
    }
  });

  it("looks every SendCommand target up in one read; an unknown or other tenant's screen is NOT_FOUND by id", async () => {
    const one = await enrollScreen(server, "pi-c1");
    const two = await enrollScreen(server, "pi-c2");
    const theirs = await enrollScreen(server, "pi-c3", "tenant-b");
    const screens = {
      get: vi.spyOn(server.stores.screens, "get"),
      getMany: vi.spyOn(server.stores.screens, "getMany"),
    };
    const commands = {
      get: vi.spyOn(server.stores.commands, "get"),
      getMany: vi.spyOn(server.stores.commands, "getMany"),
    };
    const fleet = server.fleet();
    const { commands: sent } = await fleet.sendCommand({
      screenIds: [one.deviceId, two.deviceId, one.deviceId],
      kind: CommandKind.IDENTIFY,
    });
    expect(sent.map((c) => [c.screenId, c.status])).toEqual([
      [one.deviceId, CommandStatus.QUEUED],
      [two.deviceId, CommandStatus.QUEUED],
    ]);
    expect(screens.getMany.mock.calls).toEqual([["tenant-a", [one.deviceId, two.deviceId]]]);
    expect(commands.getMany).toHaveBeenCalledTimes(1);
    expect(screens.get).not.toHaveBeenCalled();
    expect(commands.get).not.toHaveBeenCalled();

    const queued = server.stores.commands.rows.size;
    const unknown = "00000000-0000-4000-8000-000000000000";
    for (const [missing, screenIds] of [
      [unknown, [one.deviceId, unknown, theirs.deviceId]],
      [theirs.deviceId, [one.deviceId, two.deviceId, theirs.deviceId]],
      ["not-a-uuid", ["not-a-uuid"]],
    ] as const) {
      const error = await fleet.sendCommand({ screenIds: [...screenIds], kind: CommandKind.REBOOT }).catch((e) => e);
      expect(codeOf(error)).toBe(Code.NotFound);
      expect((error as ConnectError).rawMessage).toBe(`no screen ${missing} in your tenant`);
    }
    expect(server.stores.commands.rows.size).toBe(queued);
    expect(screens.get).not.toHaveBeenCalled();
  });
});
