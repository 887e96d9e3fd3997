import pino from "pino";
import { describe, expect, it } from "vitest";
import { createDisplayPower } from "./display-power.ts";
import { type CommandRunner, nodeCommandRunner } from "./process.ts";

const logger = pino({ level: "silent" });

/** A runner that records commands and fails the way it is told. */
function recordingRunner(fail?: () => Error): CommandRunner & { runs: string[] } {
  const runs: string[] = [];
  return {
    runs,
    async run(command, args) {
      runs.push([command, ...args].join(" "));
      if (fail) throw fail();
    },
  };
}

describe("createDisplayPower", () => {
  it("switches HDMI power with vcgencmd display_power", async () => {
    const runner = recordingRunner();
    const power = createDisplayPower({ runner, logger });
    await power.set(false);
    await power.set(true);
    expect(runner.runs).toEqual(["vcgencmd display_power 0", "vcgencmd display_power 1"]);
  });

  it("stops trying where vcgencmd does not exist (real spawn), without failing", async () => {
    let spawns = 0;
    const runner: CommandRunner = {
      run(command, args, options) {
        spawns++;
        return nodeCommandRunner.run(command, args, options);
      },
    };
    const power = createDisplayPower({ runner, logger, vcgencmdPath: "/nonexistent/vcgencmd" });
    await expect(power.set(false)).resolves.toBeUndefined();
    await expect(power.set(true)).resolves.toBeUndefined();
    expect(spawns).toBe(1);
  });

  it("logs a failing vcgencmd and keeps trying next time", async () => {
    const runner = recordingRunner(() => new Error("vcgencmd failed (exit 255): VCHI initialization failed"));
    const power = createDisplayPower({ runner, logger });
    await expect(power.set(false)).resolves.toBeUndefined();
    await expect(power.set(true)).resolves.toBeUndefined();
    expect(runner.runs).toHaveLength(2);
  });
});
