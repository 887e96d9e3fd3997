/**
 * `create-enrollment-key`, `list-enrollment-keys` and `revoke-enrollment-key` against the real
 * control plane (PostgreSQL + assembleControlPlane): the CLI runs as its own process the way a fleet
 * manager runs it; the key it prints enrolls a screen through DeviceService.Register straight into
 * the tenant, and once revoked it enrolls none.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { type RealControlPlane, startRealControlPlane } from "@avtech/control-plane/testing";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { EnrollmentKeyState, FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const cli = join(import.meta.dirname, "../src/cli.ts");

let cp: RealControlPlane;
beforeAll(async () => {
  cp = await startRealControlPlane();
}, 120_000);
afterAll(async () => {
  await cp?.close();
});

/** Runs the provisioning CLI; resolves with its exit code and output instead of throwing. */
async function runCli(args: string[], token: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, ...args], {
      env: { ...process.env, AVTECH_API_TOKEN: token },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("create-enrollment-key against the real control plane", () => {
  it("prints a key that enrolls a screen into the tenant, at most --max-uses times", async () => {
    const made = await runCli(
      ["create-enrollment-key", "--url", cp.addresses.http1Url, "--name", "Madrid 12", "--max-uses", "1"],
      cp.adminToken,
    );
    expect(made.stderr).toBe("");
    expect(made.code).toBe(0);
    const [, id, secret] = /^enrollment key (\S+) \(shown once, keep it safe\):\n(\S+)\n$/.exec(made.stdout) ?? [];
    expect(id).toBeTruthy();
    expect(secret).toBeTruthy();

    const device = createClient(
      DeviceService,
      createConnectTransport({ baseUrl: cp.addresses.http1Url, httpVersion: "1.1" }),
    );
    const registered = await device.register({ hardwareId: "enroll-test-0001", enrollmentKey: secret ?? "" });
    expect(registered.outcome.case).toBe("enrolled");
    const screenId = registered.outcome.case === "enrolled" ? registered.outcome.value.deviceId : "";

    const fleet = cp.client(FleetService, cp.adminToken);
    const { screens } = await fleet.listScreens({});
    expect(screens.map((s) => [s.id, s.hardwareId])).toEqual([[screenId, "enroll-test-0001"]]);

    // --max-uses 1: a second screen cannot use the same key.
    await expect(
      device.register({ hardwareId: "enroll-test-0002", enrollmentKey: secret ?? "" }),
    ).rejects.toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: expect.stringMatching(/used up/),
    });
    expect((await fleet.listScreens({})).screens).toHaveLength(1);
  });

  it("fails with a message that says how to get a valid token when the token is wrong", async () => {
    const refused = await runCli(
      ["create-enrollment-key", "--url", cp.addresses.http1Url, "--name", "Madrid 12"],
      "avt_not-a-real-token",
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/API token was refused: create one in the console/);
  });
});

describe("list-enrollment-keys and revoke-enrollment-key against the real control plane", () => {
  const device = () =>
    createClient(DeviceService, createConnectTransport({ baseUrl: cp.addresses.http1Url, httpVersion: "1.1" }));

  it("lists a created key, newest first, as a table and as JSON, never with its secret", async () => {
    const made = await runCli(
      ["create-enrollment-key", "--url", cp.addresses.http1Url, "--name", "Lyon 3", "--max-uses", "20"],
      cp.adminToken,
    );
    expect(made.code).toBe(0);
    const [, id, secret] = /^enrollment key (\S+) .*\n(\S+)\n$/.exec(made.stdout) ?? [];

    const table = await runCli(["list-enrollment-keys", "--url", cp.addresses.http1Url], cp.adminToken);
    expect(table).toMatchObject({ code: 0, stderr: "" });
    const [header, newest, ...older] = table.stdout.trimEnd().split("\n");
    expect(header?.split(/\s{2,}/)).toEqual(["NAME", "STATE", "USES/MAX", "EXPIRES (UTC)", "CREATED (UTC)", "ID"]);
    expect(newest?.split(/\s{2,}/)).toEqual(["Lyon 3", "active", "0/20", "never", expect.any(String), id]);
    expect(older.join("\n")).toContain("Madrid 12"); // the key of the first test, created before
    expect(table.stdout).not.toContain(secret);

    const json = await runCli(["list-enrollment-keys", "--url", cp.addresses.http1Url, "--json"], cp.adminToken);
    expect(json.code).toBe(0);
    const { keys } = JSON.parse(json.stdout) as { keys: { id: string; createdAt: string }[] };
    expect(keys[0]).toEqual({
      id,
      name: "Lyon 3",
      groupId: "",
      state: "active",
      uses: 0,
      maxUses: 20,
      expiresAt: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      revokedAt: null,
    });
    const created = keys.map((k) => k.createdAt);
    expect(created).toEqual([...created].sort().reverse());
    expect(json.stdout).not.toContain(secret);
  });

  it("revokes a key by its name: the screen it enrolled stays, a new screen is refused", async () => {
    const fleet = cp.client(FleetService, cp.adminToken);
    const { id, enrollmentKey } = await fleet.createEnrollmentKey({ name: "Porto 1" });
    const before = await device().register({ hardwareId: "revoke-test-0001", enrollmentKey });
    expect(before.outcome.case).toBe("enrolled");

    const revoked = await runCli(
      ["revoke-enrollment-key", "--url", cp.addresses.http1Url, "--name", "Porto 1"],
      cp.adminToken,
    );
    expect(revoked).toMatchObject({ code: 0, stderr: "" });
    expect(revoked.stdout).toMatch(new RegExp(`^enrollment key ${id} \\("Porto 1"\\) is revoked since `));

    await expect(device().register({ hardwareId: "revoke-test-0002", enrollmentKey })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
    const { screens } = await fleet.listScreens({});
    expect(screens.map((s) => s.hardwareId)).toContain("revoke-test-0001");
    expect(screens.map((s) => s.hardwareId)).not.toContain("revoke-test-0002");
    const key = (await fleet.listEnrollmentKeys({})).keys.find((k) => k.id === id);
    expect(key?.state).toBe(EnrollmentKeyState.REVOKED);

    // Revoking again by id is fine; the name now means no live key.
    const again = await runCli(["revoke-enrollment-key", "--url", cp.addresses.http1Url, "--id", id], cp.adminToken);
    expect(again.code).toBe(0);
    const byName = await runCli(
      ["revoke-enrollment-key", "--url", cp.addresses.http1Url, "--name", "Porto 1"],
      cp.adminToken,
    );
    expect(byName).toMatchObject({
      code: 1,
      stderr: `error: every enrollment key named "Porto 1" is already revoked (${id})\n`,
    });
  });

  it("refuses a name two live keys share, listing their ids, and revokes neither", async () => {
    const fleet = cp.client(FleetService, cp.adminToken);
    const first = await fleet.createEnrollmentKey({ name: "Lobby" });
    const second = await fleet.createEnrollmentKey({ name: "Lobby" });
    const refused = await runCli(
      ["revoke-enrollment-key", "--url", cp.addresses.http1Url, "--name", "Lobby"],
      cp.adminToken,
    );
    expect(refused.code).toBe(1);
    // Both ids; compared as a set because two keys made in the same millisecond are listed in id order.
    const [, ids] =
      /^error: 2 enrollment keys that are not revoked are named "Lobby" \((.+)\): revoke one with --id <key id>\n$/.exec(
        refused.stderr,
      ) ?? [];
    expect(ids?.split(", ").sort()).toEqual([first.id, second.id].sort());
    const states = (await fleet.listEnrollmentKeys({})).keys.filter((k) => k.name === "Lobby").map((k) => k.state);
    expect(states).toEqual([EnrollmentKeyState.ACTIVE, EnrollmentKeyState.ACTIVE]);
  });

  it("fails with a one-line message and exit code 1 for an unknown id, a non-admin or a wrong token", async () => {
    const url = cp.addresses.http1Url;
    const editor = await cp.apiToken("editor");
    const [unknown, malformed, listByEditor, revokeByEditor, wrongToken] = await Promise.all([
      runCli(["revoke-enrollment-key", "--url", url, "--id", "00000000-0000-4000-8000-000000000000"], cp.adminToken),
      runCli(["revoke-enrollment-key", "--url", url, "--id", "not-an-id"], cp.adminToken),
      runCli(["list-enrollment-keys", "--url", url], editor),
      runCli(["revoke-enrollment-key", "--url", url, "--id", "00000000-0000-4000-8000-000000000000"], editor),
      runCli(["list-enrollment-keys", "--url", url], "avt_not-a-real-token"),
    ]);
    expect(unknown).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "error: no enrollment key 00000000-0000-4000-8000-000000000000 in your tenant: " +
        "list-enrollment-keys shows the ids\n",
    });
    expect(malformed).toMatchObject({ code: 1, stderr: expect.stringMatching(/^error: no enrollment key not-an-id /) });
    expect(listByEditor).toEqual({
      code: 1,
      stdout: "",
      stderr: "error: the API token may not list enrollment keys: it needs the admin role\n",
    });
    expect(revokeByEditor).toMatchObject({
      code: 1,
      stderr: "error: the API token may not revoke enrollment keys: it needs the admin role\n",
    });
    expect(wrongToken).toMatchObject({ code: 1, stderr: expect.stringMatching(/API token was refused: create one/) });
  });

  it("asks for AVTECH_API_TOKEN with the usage and exit code 2 when it is missing", async () => {
    const missing = await runCli(["list-enrollment-keys", "--url", cp.addresses.http1Url], "");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^set AVTECH_API_TOKEN to an API token with the admin role/);
  });
});
