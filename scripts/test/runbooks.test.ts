/**
 * The runbooks (docs/runbooks) name only commands that exist and work as written. Every fenced
 * `sh` block is read (scripts/lib/runbooks.ts) and each command of ours is checked against the
 * program itself:
 * - `avtech-cp-admin …` (the admin CLI on a control-plane host) runs, through `runAdminCli`, the
 *   function the CLI process runs, against a running control plane (assembled as in production, on
 *   the test PostgreSQL) with a populated demo tenant: the demo content, simulated screens that
 *   acked a publish, and one screen whose sync failed. It must exit 0.
 * - `avtech-player …` must parse with the player's own parser (`parsePlayerArgs`).
 * - `make <target>` must name a target of the Makefile.
 * - Every systemd unit a line names must be one the ansible roles install (or PostgreSQL's), and the
 *   role's scripts (`avtech-cp-backup`, `avtech-cp-restore`) must exist as templates.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bearerToken, runAdminCli } from "@avtech/control-plane";
import { type RealControlPlane, startRealControlPlane } from "@avtech/control-plane/testing";
import { type FleetSimulator, startFleetSimulator } from "@avtech/fleet-sim";
import { parsePlayerArgs } from "@avtech/player/cli-args";
import { CommandStatus } from "@avtech/proto/gen/avtech/device/v1/command_pb.js";
import {
  type ConnectRequest,
  ConnectRequestSchema,
  DeviceService,
  SyncFailureReason,
} from "@avtech/proto/gen/avtech/device/v1/device_pb.js";
import { FleetService } from "@avtech/proto/gen/avtech/fleet/v1/fleet_pb.js";
import { PublishService } from "@avtech/proto/gen/avtech/publish/v1/publish_pb.js";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { populateDemoContent } from "../lib/demo-data.ts";
import { type RunbookCommand, runbookCommands } from "../lib/runbooks.ts";

const repoDir = join(import.meta.dirname, "..", "..");
const runbookDir = join(repoDir, "docs/runbooks");
/** The runbooks the index promises (issue 17). */
const expectedRunbooks = [
  "screen-not-responding.md",
  "mass-publish-failure.md",
  "disk-full-on-screens.md",
  "wrong-content.md",
  "control-plane-down.md",
  "database-full.md",
  "certificate-expiry.md",
];

/** The variables runbooks use in commands of ours; their values are filled in once the demo tenant runs. */
const variables: Record<string, string> = { TENANT: "", SCREEN: "" };
const where = (c: RunbookCommand) => `${c.file}:${c.line}: ${c.source}`;
const ours = (program: string) => (c: RunbookCommand) => c.words[0] === program;

describe("runbooks", () => {
  const commands = runbookCommands(runbookDir, { TENANT: "demo", SCREEN: "screen" });

  it("has every runbook the index promises, linked from the index and the root README, each with commands of ours", () => {
    const files = readdirSync(runbookDir).filter((name) => name.endsWith(".md") && name !== "README.md");
    expect(files.sort()).toEqual([...expectedRunbooks].sort());
    const index = readFileSync(join(runbookDir, "README.md"), "utf8");
    for (const file of expectedRunbooks) {
      expect(index).toContain(`](${file})`);
      const mine = commands.filter((c) => c.file === file);
      expect({ file, ours: mine.some((c) => /^avtech-(cp-admin|player)$/.test(c.words[0] ?? "")) }).toEqual({
        file,
        ours: true,
      });
    }
    expect(readFileSync(join(repoDir, "README.md"), "utf8")).toContain("](docs/runbooks/README.md)");
  });

  it("names avtech-player commands the player's own parser accepts", () => {
    const player = commands.filter(ours("avtech-player"));
    expect(player.length).toBeGreaterThan(5);
    const failures = player.flatMap((c) => {
      try {
        const args = parsePlayerArgs(c.words.slice(1));
        return args.help ? [`${where(c)}\n  → only prints the usage`] : [];
      } catch (error) {
        return [`${where(c)}\n  → ${(error as Error).message.split("\n")[0]}`];
      }
    });
    expect(failures).toEqual([]);
  });

  it("names make targets the Makefile has", () => {
    const makefile = readFileSync(join(repoDir, "Makefile"), "utf8");
    const targets = new Set([...makefile.matchAll(/^([A-Za-z0-9_-]+):/gm)].map((m) => m[1]));
    const failures = commands
      .filter(ours("make"))
      .flatMap((c) => c.words.slice(1).filter((word) => !word.startsWith("-") && !word.includes("=")))
      .filter((target) => !targets.has(target));
    expect(failures).toEqual([]);
  });

  it("names only systemd units and scripts the ansible roles install", () => {
    const units = new Set(["postgresql.service", "systemd-journald.service"]);
    const roles = join(repoDir, "ansible/roles");
    for (const entry of readdirSync(roles, { recursive: true, encoding: "utf8" })) {
      const unit = /([a-z0-9@-]+\.(service|timer|mount))(\.j2)?$/.exec(entry);
      if (unit?.[1]) units.add(unit[1]);
    }
    const templates = readdirSync(join(roles, "control_plane/templates"));
    const failures: string[] = [];
    for (const c of commands) {
      for (const word of c.words) {
        for (const match of word.matchAll(/\b(avtech-[a-z0-9-]+|postgresql[a-z0-9@*-]*)\.(service|timer|mount)\b/g)) {
          if (!units.has(match[0]) && !match[0].includes("*")) failures.push(`${where(c)}\n  → no unit ${match[0]}`);
        }
      }
      const program = c.words[0] ?? "";
      if (/^avtech-cp-(backup|restore)$/.test(program) && !templates.includes(`${program}.j2`)) {
        failures.push(`${where(c)}\n  → the control_plane role installs no ${program}`);
      }
    }
    expect(failures).toEqual([]);
  });

  describe("avtech-cp-admin commands, run against a control plane with a populated demo tenant", () => {
    let cp: RealControlPlane;
    let simulator: FleetSimulator;
    const abort = new AbortController();

    beforeAll(async () => {
      cp = await startRealControlPlane();
      const transport = createGrpcTransport({
        baseUrl: cp.addresses.http2Url,
        interceptors: [bearerToken(cp.adminToken)],
      });
      await populateDemoContent(transport, join(repoDir, "test-artifacts/demo-clips"));
      const fleet = createClient(FleetService, transport);
      const { enrollmentKey } = await fleet.createEnrollmentKey({ name: "runbook test" });
      simulator = await startFleetSimulator({
        baseUrl: cp.addresses.http2Url,
        count: 5,
        enrollmentKey,
        hardwareIdPrefix: "demo-sim",
      });
      await simulator.whenConnected(30_000);
      await failingScreen(cp.addresses.http2Url, enrollmentKey, abort.signal);
      await createClient(PublishService, transport).publish({});
      variables.TENANT = cp.tenant.slug;
      for (
        let tries = 0;
        !(await admin(["publish", "status", "--tenant", cp.tenant.slug])).output.includes(
          "5 synced, 0 pending, 1 failed",
        );
        tries++
      ) {
        if (tries > 100) throw new Error("the demo tenant did not settle at 5 synced screens and 1 failed");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const { screens } = await fleet.listScreens({});
      variables.SCREEN = screens.find((s) => s.hardwareId.startsWith("demo-sim-"))?.id ?? "";
    }, 180_000);

    /** Runs `avtech-cp-admin <args>` in-process, as the CLI process would, against the test control plane. */
    async function admin(args: string[]): Promise<{ code: number; output: string }> {
      let output = "";
      const code = await runAdminCli(args, {
        env: { DATABASE_URL: cp.databaseUrl, AVTECH_BLOB_DIR: cp.blobDir, LOG_LEVEL: "silent" },
        stdout: (text) => {
          output += text;
        },
        stderr: (text) => {
          output += text;
        },
      });
      return { code, output };
    }

    afterAll(async () => {
      abort.abort();
      await simulator?.stop();
      await cp?.close();
    });

    it("runs every one with exit code 0", async () => {
      const adminCommands = runbookCommands(runbookDir, variables).filter(ours("avtech-cp-admin"));
      expect(adminCommands.length).toBeGreaterThan(30);
      const failures: string[] = [];
      for (const c of adminCommands) {
        if (c.unknownVariables.length > 0) {
          failures.push(
            `${where(c)}\n  → uses $${c.unknownVariables.join(", $")}; the test knows ${Object.keys(variables).join(", ")}`,
          );
          continue;
        }
        const { code, output } = await admin(c.words.slice(1));
        if (code !== 0)
          failures.push(`${where(c)}\n  → exit ${code}: ${output.trim().split("\n").slice(0, 3).join(" / ")}`);
      }
      expect(failures).toEqual([]);
    }, 300_000);
  });
});

/**
 * A screen that enrolls, reports every desired state it gets as DOWNLOAD_FAILED and answers every
 * command as SUCCEEDED: the failed screen `publish retry --failed` and `--status failed` find.
 */
async function failingScreen(baseUrl: string, enrollmentKey: string, signal: AbortSignal) {
  const device = createClient(DeviceService, createGrpcTransport({ baseUrl }));
  const registered = await device.register({
    hardwareId: "demo-failing",
    enrollmentKey,
    facts: { hostname: "demo-failing" },
  });
  if (registered.outcome.case !== "enrolled") throw new Error("the failing screen was not enrolled");
  const token = registered.outcome.value.deviceToken;
  const outbox = messageQueue();
  outbox.push(create(ConnectRequestSchema, { message: { case: "hello", value: { playerVersion: "runbook-test" } } }));
  void (async () => {
    for await (const response of device.connect(outbox.messages(), {
      signal,
      headers: { authorization: `Bearer ${token}` },
    })) {
      const message = response.message;
      if (message.case === "desiredState") {
        outbox.push(
          create(ConnectRequestSchema, {
            message: {
              case: "syncReport",
              value: {
                version: message.value.version,
                result: {
                  case: "failed",
                  value: { reason: SyncFailureReason.DOWNLOAD_FAILED, message: "connection reset by the site's proxy" },
                },
              },
            },
          }),
        );
      } else if (message.case === "command") {
        outbox.push(
          create(ConnectRequestSchema, {
            message: {
              case: "commandResult",
              value: { commandId: message.value.commandId, status: CommandStatus.SUCCEEDED, message: "retried" },
            },
          }),
        );
      }
    }
  })().catch(() => undefined);
}

/** The requests of one device stream: pushed by the test, read by the Connect client. */
function messageQueue() {
  const queued: ConnectRequest[] = [];
  let wake: (() => void) | undefined;
  return {
    push(message: ConnectRequest) {
      queued.push(message);
      wake?.();
    },
    async *messages(): AsyncGenerator<ConnectRequest> {
      for (;;) {
        const next = queued.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}
