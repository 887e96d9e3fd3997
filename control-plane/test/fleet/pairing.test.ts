import { EnrollmentKeySchema, EnrollmentKeyState } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { enrollScreen, openStream } from "../lib/fleet-device.ts";
import { type FleetTestServer, ManualClock, startFleetTestServer } from "../lib/fleet-server.ts";

const codeOf = (error: unknown) => (error instanceof ConnectError ? error.code : undefined);

describe("registration and pairing", () => {
  let server: FleetTestServer;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock();
    server = await startFleetTestServer({ clock });
  });
  afterEach(() => server.close());

  it("pairs a screen end to end: register → code → claim → CompletePairing returns the token once", async () => {
    const device = server.device();
    const registered = await device.register({
      hardwareId: "pi-serial-0001",
      facts: { model: "Raspberry Pi 4 Model B", hostname: "lobby-pi" },
    });
    expect(registered.outcome.case).toBe("pairing");
    if (registered.outcome.case !== "pairing") return;
    const ticket = registered.outcome.value;
    expect(ticket.pairingCode).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    const waiting = await device.completePairing({ pairingSecret: ticket.pairingSecret });
    expect(waiting.outcome.case).toBe("waiting");

    const typed = ticket.pairingCode.toLowerCase().replace("-", " ");
    const { screen } = await server.fleet().claimScreen({
      pairingCode: typed,
      name: "Lobby left",
      tags: ["Ground-Floor"],
      timezone: "Europe/Madrid",
    });
    expect(screen).toMatchObject({ name: "Lobby left", hardwareId: "pi-serial-0001", model: "Raspberry Pi 4 Model B" });
    expect(screen?.tags).toEqual(["ground-floor"]);

    const claimed = await device.completePairing({ pairingSecret: ticket.pairingSecret });
    expect(claimed.outcome.case).toBe("claimed");
    if (claimed.outcome.case !== "claimed") return;
    expect(claimed.outcome.value.deviceId).toBe(screen?.id);
    expect(claimed.outcome.value.deviceToken).toMatch(/^avd_[A-Za-z0-9_-]{43}$/);
    await expect(device.completePairing({ pairingSecret: ticket.pairingSecret })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.FailedPrecondition,
    );

    // The token works on the stream, and only its hash is stored.
    const stream = openStream(device, claimed.outcome.value.deviceToken);
    expect((await stream.next()).message.case).toBe("welcome");
    stream.hangUp();
    const stored = [...server.stores.screens.rows.values()][0];
    expect(stored?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored?.tokenHash).not.toContain(claimed.outcome.value.deviceToken);
  });

  it("pairs a device that already is a screen again onto that screen: same id and name, a new token, the old one refused", async () => {
    const device = server.device();
    const pair = async (name: string) => {
      const registered = await device.register({ hardwareId: "pi-reflashed", facts: { model: "Raspberry Pi 5" } });
      if (registered.outcome.case !== "pairing") throw new Error("expected a pairing code");
      const { screen } = await server.fleet().claimScreen({ pairingCode: registered.outcome.value.pairingCode, name });
      const claimed = await device.completePairing({ pairingSecret: registered.outcome.value.pairingSecret });
      if (claimed.outcome.case !== "claimed") throw new Error("expected the claim to be complete");
      return { screen, token: claimed.outcome.value.deviceToken, deviceId: claimed.outcome.value.deviceId };
    };
    const first = await pair("Lobby");
    // The board is re-flashed: it has lost its token and shows a new code.
    const again = await pair("typed again");
    expect(again.screen).toMatchObject({ id: first.screen?.id, name: "Lobby", hardwareId: "pi-reflashed" });
    expect(again.deviceId).toBe(first.screen?.id);
    expect(again.token).not.toBe(first.token);
    expect(server.stores.screens.rows.size).toBe(1);
    expect(codeOf(await openStream(device, first.token).ended)).toBe(Code.Unauthenticated);
    const stream = openStream(device, again.token);
    expect((await stream.next()).message.case).toBe("welcome");
    stream.hangUp();
  });

  it("answers a wrong, an expired and an already-used code identically", async () => {
    const device = server.device();
    const fleet = server.fleet();
    const ticketOf = async (hardwareId: string) => {
      const response = await device.register({ hardwareId });
      if (response.outcome.case !== "pairing") throw new Error("expected a pairing ticket");
      return response.outcome.value;
    };
    const used = await ticketOf("pi-a");
    await fleet.claimScreen({ pairingCode: used.pairingCode, name: "A" });
    const expired = await ticketOf("pi-b");
    clock.advance(11 * 60_000);
    const errors: ConnectError[] = [];
    for (const pairingCode of ["BCDF-GHJK", expired.pairingCode, used.pairingCode, "not a code"]) {
      errors.push(
        await fleet.claimScreen({ pairingCode, name: "X" }).then(
          () => {
            throw new Error("claim should fail");
          },
          (error: unknown) => ConnectError.from(error),
        ),
      );
    }
    expect(new Set(errors.map((e) => `${e.code}:${e.rawMessage}`)).size).toBe(1);
    expect(errors[0]?.code).toBe(Code.NotFound);
    expect(expired.expiresAt && Number(expired.expiresAt.seconds) * 1000 - clock.now().getTime()).toBeLessThan(0);
  });

  it("lets exactly one of many concurrent claims of one code win", async () => {
    const response = await server.device().register({ hardwareId: "pi-race" });
    if (response.outcome.case !== "pairing") throw new Error("expected a pairing ticket");
    const code = response.outcome.value.pairingCode;
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        server.fleet(`tenant-${i}`).claimScreen({ pairingCode: code, name: `S${i}` }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(server.stores.screens.rows.size).toBe(1);
  });

  it("enrolls a screen with a tenant key straight into the key's tenant and group", async () => {
    const { group } = await server.fleet("tenant-b").createGroup({ name: "Site 7" });
    const groupId = group?.id ?? "";
    const { enrollmentKey } = await server
      .fleet("tenant-b")
      .createEnrollmentKey({ name: "site 7", groupId, maxUses: 1 });
    const response = await server
      .device()
      .register({ hardwareId: "pi-7", enrollmentKey, facts: { hostname: "kiosk-7" } });
    expect(response.outcome.case).toBe("enrolled");
    const { screens } = await server.fleet("tenant-b").listScreens({});
    expect(screens.map((s) => [s.name, s.groupId, s.hardwareId])).toEqual([["kiosk-7", groupId, "pi-7"]]);
    expect((await server.fleet("tenant-a").listScreens({})).screens).toEqual([]);
    await expect(server.device().register({ hardwareId: "pi-8", enrollmentKey })).rejects.toSatisfy(
      (e) => codeOf(e) === Code.Unauthenticated,
    );
  });

  it("lists enrollment keys with their state and never their secrets; a revoked key enrolls no screen", async () => {
    const fleet = server.fleet("tenant-b");
    const site = await fleet.createEnrollmentKey({ name: " Site 9 ", maxUses: 2 });
    clock.advance(1000);
    const once = await fleet.createEnrollmentKey({ name: "one screen", maxUses: 1 });
    await server.device().register({ hardwareId: "pi-9", enrollmentKey: once.enrollmentKey });
    clock.advance(1000);
    const soon = await fleet.createEnrollmentKey({
      name: "expiring",
      expiresAt: { seconds: BigInt(Math.floor(clock.now().getTime() / 1000) + 60), nanos: 0 },
    });
    clock.advance(61_000);

    const { keys } = await fleet.listEnrollmentKeys({});
    expect(keys.map((k) => [k.name, EnrollmentKeyState[k.state], k.uses])).toEqual([
      ["expiring", "EXPIRED", 0],
      ["one screen", "USED_UP", 1],
      ["Site 9", "ACTIVE", 0],
    ]);
    expect(JSON.stringify(keys.map((k) => toJson(EnrollmentKeySchema, k)))).not.toContain(site.enrollmentKey);
    expect((await server.fleet("tenant-a").listEnrollmentKeys({})).keys).toEqual([]);

    const { key } = await fleet.revokeEnrollmentKey({ id: site.id });
    expect(key?.state).toBe(EnrollmentKeyState.REVOKED);
    await expect(
      server.device().register({ hardwareId: "pi-10", enrollmentKey: site.enrollmentKey }),
    ).rejects.toSatisfy((e) => codeOf(e) === Code.Unauthenticated);
    const again = await fleet.revokeEnrollmentKey({ id: site.id });
    expect(again.key?.revokedAt).toEqual(key?.revokedAt);
    expect(soon.id).not.toBe(site.id);
  });

  it("refuses bad enrollment-key requests with the code that says what to fix", async () => {
    const fleet = server.fleet("tenant-b");
    const { id } = await fleet.createEnrollmentKey({ name: "mine" });
    const refusals: [() => Promise<unknown>, Code, string][] = [
      [() => fleet.createEnrollmentKey({ name: "  " }), Code.InvalidArgument, "name must be 1..200 characters"],
      [
        () => fleet.createEnrollmentKey({ name: "x".repeat(201) }),
        Code.InvalidArgument,
        "name must be 1..200 characters",
      ],
      [
        () => fleet.createEnrollmentKey({ name: "late", expiresAt: { seconds: 1n, nanos: 0 } }),
        Code.InvalidArgument,
        "expires_at is in the past",
      ],
      [() => fleet.createEnrollmentKey({ name: "g", groupId: "nope" }), Code.NotFound, "no group nope"],
      [() => server.fleet("tenant-a").revokeEnrollmentKey({ id }), Code.NotFound, `no enrollment key ${id}`],
      [() => fleet.revokeEnrollmentKey({ id: "not-a-key" }), Code.NotFound, "no enrollment key not-a-key"],
      [() => server.fleet("tenant-b", "editor").listEnrollmentKeys({}), Code.PermissionDenied, ""],
      [() => server.fleet("tenant-b", "editor").revokeEnrollmentKey({ id }), Code.PermissionDenied, ""],
    ];
    for (const [call, code, message] of refusals) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, message).toBeInstanceOf(ConnectError);
      expect(Code[(error as ConnectError).code], message).toBe(Code[code]);
      expect((error as ConnectError).rawMessage).toContain(message);
    }
    expect((await fleet.listEnrollmentKeys({})).keys.map((k) => k.name)).toEqual(["mine"]);
  });

  it("rate-limits registration per address with RESOURCE_EXHAUSTED", async () => {
    const limited = await startFleetTestServer({
      rateLimits: { perIp: { burst: 3, perSecond: 0 }, global: { burst: 100, perSecond: 0 } },
    });
    try {
      const device = limited.device();
      for (let i = 0; i < 3; i++) await device.register({ hardwareId: `pi-${i}` });
      await expect(device.register({ hardwareId: "pi-x" })).rejects.toSatisfy(
        (e) => codeOf(e) === Code.ResourceExhausted,
      );
    } finally {
      await limited.close();
    }
  });

  it("refuses an unknown token and a viewer's claim", async () => {
    const stream = openStream(server.device(), "not-a-token");
    expect(codeOf(await stream.ended)).toBe(Code.Unauthenticated);
    await enrollScreen(server, "pi-v");
    await expect(
      server.fleet("tenant-a", "viewer").claimScreen({ pairingCode: "BCDFGHJK", name: "x" }),
    ).rejects.toSatisfy((e) => codeOf(e) === Code.PermissionDenied);
  });
});
