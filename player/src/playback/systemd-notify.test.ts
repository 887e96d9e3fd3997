import pino from "pino";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../test/lib/fake-clock.ts";
import type { CommandRunner } from "./process.ts";
import { createSystemdNotifier, startWatchdogLoop } from "./systemd-notify.ts";

/** Records the commands it is asked to run. */
function fakeRunner() {
  const runs: { command: string; args: readonly string[]; env: NodeJS.ProcessEnv | undefined }[] = [];
  const runner: CommandRunner = {
    async run(command, args, options) {
      runs.push({ command, args, env: options?.env });
    },
  };
  return { runner, runs };
}

const logger = pino({ level: "silent" });

describe("createSystemdNotifier", () => {
  it("spawns systemd-notify with NOTIFY_SOCKET passed on", async () => {
    const { runner, runs } = fakeRunner();
    const notifier = createSystemdNotifier({ spawn: runner, env: { NOTIFY_SOCKET: "/run/systemd/notify" } });
    await notifier.ready();
    await notifier.watchdogPing();
    await notifier.status("playing\nlobby loop");
    expect(notifier.enabled).toBe(true);
    expect(runs.map((r) => [r.command, ...r.args])).toEqual([
      ["systemd-notify", "READY=1"],
      ["systemd-notify", "WATCHDOG=1"],
      ["systemd-notify", "STATUS=playing lobby loop"],
    ]);
    expect(runs[0]?.env?.NOTIFY_SOCKET).toBe("/run/systemd/notify");
  });

  it("sends through the long-lived sender when one is given, spawning nothing", async () => {
    const { runner, runs } = fakeRunner();
    const sent: string[] = [];
    const notifier = createSystemdNotifier({
      spawn: runner,
      env: { NOTIFY_SOCKET: "@notify" },
      sender: {
        async send(assignment) {
          sent.push(assignment);
        },
        close: () => undefined,
      },
    });
    await notifier.ready();
    await notifier.watchdogPing();
    expect(sent).toEqual(["READY=1", "WATCHDOG=1"]);
    expect(runs).toEqual([]);
  });

  it("spawns nothing outside systemd", async () => {
    const { runner, runs } = fakeRunner();
    const notifier = createSystemdNotifier({ spawn: runner, env: {} });
    await notifier.ready();
    await notifier.watchdogPing();
    expect(notifier.enabled).toBe(false);
    expect(runs).toEqual([]);
  });
});

describe("startWatchdogLoop", () => {
  it("pings only while every health predicate holds", async () => {
    const { runner, runs } = fakeRunner();
    const notifier = createSystemdNotifier({ spawn: runner, env: { NOTIFY_SOCKET: "@notify" } });
    const clock = new FakeClock(new Date(0));
    let mpvHealthy = true;
    let loopHealthy = true;
    const stop = startWatchdogLoop({
      notifier,
      healthy: [() => mpvHealthy, () => loopHealthy],
      intervalMs: 1_000,
      clock,
      logger,
    });
    await clock.advance(0);
    await clock.advance(2_000);
    expect(runs).toHaveLength(3);
    mpvHealthy = false;
    await clock.advance(3_000);
    expect(runs).toHaveLength(3);
    mpvHealthy = true;
    loopHealthy = false;
    await clock.advance(3_000);
    expect(runs).toHaveLength(3);
    loopHealthy = true;
    await clock.advance(1_000);
    expect(runs).toHaveLength(4);
    stop();
    await clock.advance(5_000);
    expect(runs).toHaveLength(4);
    expect(clock.pending).toBe(0);
  });

  it("keeps pinging after a failed spawn", async () => {
    let calls = 0;
    const failing: CommandRunner = {
      async run() {
        calls++;
        throw new Error("systemd-notify: not found");
      },
    };
    const notifier = createSystemdNotifier({ spawn: failing, env: { NOTIFY_SOCKET: "@notify" } });
    const clock = new FakeClock(new Date(0));
    const stop = startWatchdogLoop({ notifier, healthy: () => true, intervalMs: 500, clock, logger });
    await clock.advance(0);
    await clock.advance(1_000);
    stop();
    expect(calls).toBe(3);
  });
});
