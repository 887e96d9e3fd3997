/**
 * `create-enrollment-key` against the real control plane (PostgreSQL + assembleControlPlane): the
 * CLI runs as its own process the way a fleet manager runs it, and the key it prints enrolls a
 * screen through DeviceService.Register straight into the tenant.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { DeviceService } from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RealControlPlane, startRealControlPlane } from "./lib/control-plane.ts";

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
