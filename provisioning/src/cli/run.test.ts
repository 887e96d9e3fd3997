import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { createRouterTransport } from "@connectrpc/connect";
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
        service(FleetService, { createEnrollmentKey: () => ({ id: "ek_9", enrollmentKey: "s3cret" }) });
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

  it("refuses to run without a token, an output or with SSH but no key", async () => {
    await expect(runCli(["create-enrollment-key", "--url", "u", "--name", "n"], io())).rejects.toThrow(
      /AVTECH_API_TOKEN/,
    );
    await expect(runCli(["write-config", "--url", "https://s.example.com"], io())).rejects.toThrow(
      /exactly one of --image/,
    );
    await expect(runCli(["checklist", "--url", "https://s.example.com", "--ssh"], io())).rejects.toThrow(/--ssh-key/);
    await expect(runCli(["frobnicate"], io())).rejects.toThrow(UsageError);
  });
});
