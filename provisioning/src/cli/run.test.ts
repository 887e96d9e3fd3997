import { EnrollmentKeyState, FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type CliIo, runCli, UsageError } from "./run.ts";

function io(env: CliIo["env"] = {}): CliIo & { text: () => string } {
  const out: string[] = [];
  return {
    out: (t) => out.push(t),
    env,
    runner: {
      run: async () => {
        throw new Error("no tools in this test");
      },
    },
    transport: () =>
      createRouterTransport(({ service }) => {
        service(FleetService, {
          createEnrollmentKey: () => ({ id: "ek_9", enrollmentKey: "s3cret" }),
          listEnrollmentKeys: () => ({
            keys: ["ek_3", "ek_2", "ek_1"].map((id) => ({
              id,
              name: id === "ek_3" ? "Lyon" : "Madrid",
              createdAt: timestampFromDate(new Date("2026-11-24T08:30:00Z")),
              state: EnrollmentKeyState.ACTIVE,
            })),
          }),
          revokeEnrollmentKey: (request) => {
            if (request.id !== "ek_3") throw new ConnectError("no enrollment key", Code.NotFound);
            return {
              key: {
                id: "ek_3",
                name: "Lyon",
                createdAt: timestampFromDate(new Date("2026-11-24T08:30:00Z")),
                revokedAt: timestampFromDate(new Date("2026-11-24T09:00:00Z")),
                state: EnrollmentKeyState.REVOKED,
              },
            };
          },
        });
      }),
    text: () => out.join(""),
  };
}

describe("runCli", () => {
  it("prints a pairing checklist that tells the installer to check the hardware id", async () => {
    const cli = io();
    await runCli(["checklist", "--url", "https://signage.example.com"], cli);
    expect(cli.text()).toContain("8-letter pairing code");
    expect(cli.text()).toContain("hardware id");
  });

  it("prints an enrollment checklist when a key is given", async () => {
    const cli = io();
    await runCli(["checklist", "--url", "https://s.example.com", "--enrollment-key", "k"], cli);
    expect(cli.text()).toContain("joins the tenant by itself");
  });

  it("creates an enrollment key with the token from the environment", async () => {
    const cli = io({ AVTECH_API_TOKEN: "t" });
    await runCli(["create-enrollment-key", "--url", "https://s.example.com", "--name", "Madrid"], cli);
    expect(cli.text()).toContain("enrollment key ek_9");
    expect(cli.text()).toContain("s3cret");
  });

  it("lists enrollment keys as a table or as JSON", async () => {
    const table = io({ AVTECH_API_TOKEN: "t" });
    await runCli(["list-enrollment-keys", "--url", "https://s.example.com"], table);
    expect(
      table
        .text()
        .split("\n")
        .map((line) => line.split(/\s+/)[0]),
    ).toEqual(["NAME", "Lyon", "Madrid", "Madrid", ""]);
    const json = io({ AVTECH_API_TOKEN: "t" });
    await runCli(["list-enrollment-keys", "--url", "https://s.example.com", "--json"], json);
    expect(JSON.parse(json.text()).keys.map((k: { id: string }) => k.id)).toEqual(["ek_3", "ek_2", "ek_1"]);
  });

  it("revokes a key by a name only one key has, and refuses an ambiguous name with the ids", async () => {
    const cli = io({ AVTECH_API_TOKEN: "t" });
    await runCli(["revoke-enrollment-key", "--url", "https://s.example.com", "--name", "Lyon"], cli);
    expect(cli.text()).toMatch(/^enrollment key ek_3 \("Lyon"\) is revoked since 2026-11-24T09:00:00.000Z/);
    await expect(
      runCli(["revoke-enrollment-key", "--url", "https://s.example.com", "--name", "Madrid"], cli),
    ).rejects.toThrow('2 enrollment keys that are not revoked are named "Madrid" (ek_2, ek_1): revoke one with --id');
    await expect(
      runCli(["revoke-enrollment-key", "--url", "https://s.example.com", "--id", "ek_3", "--name", "Lyon"], cli),
    ).rejects.toThrow(UsageError);
  });

  it("refuses to run without a token, an output or with SSH but no key", async () => {
    await expect(runCli(["create-enrollment-key", "--url", "u", "--name", "n"], io())).rejects.toThrow(
      /AVTECH_API_TOKEN/,
    );
    await expect(runCli(["write-config", "--url", "https://s.example.com"], io())).rejects.toThrow(
      /exactly one of --image/,
    );
    await expect(runCli(["checklist", "--url", "https://s.example.com", "--ssh"], io())).rejects.toThrow(/--ssh-key/);
    await expect(runCli(["list-enrollment-keys", "--url", "u"], io())).rejects.toThrow(/AVTECH_API_TOKEN/);
    await expect(runCli(["revoke-enrollment-key", "--url", "u", "--id", "x"], io())).rejects.toThrow(
      /AVTECH_API_TOKEN/,
    );
    await expect(runCli(["frobnicate"], io())).rejects.toThrow(UsageError);
  });
});
