import pino from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { confirmRunningSlot, type RaucStatus, type RunningSlotOutcome } from "../../src/update/index.ts";
import { FakeClock } from "../lib/fake-clock.ts";
import { FakeHealth, FakeRauc } from "../lib/fake-rauc.ts";

let clock: FakeClock;
let rauc: FakeRauc;
let health: FakeHealth;
let gateSlots: string[];

beforeEach(() => {
  clock = new FakeClock(new Date("2026-12-07T12:00:00Z"));
  rauc = new FakeRauc();
  health = new FakeHealth();
  gateSlots = [];
});

function start(signal = new AbortController().signal): Promise<RunningSlotOutcome> {
  return confirmRunningSlot(
    {
      rauc,
      health,
      awaitsUpdateGate: (status: RaucStatus) => gateSlots.includes(status.booted),
      clock,
      logger: pino({ level: "silent" }),
      pollMs: 5_000,
      retryMs: 60_000,
    },
    signal,
  );
}

describe("marking the running slot good outside an update", () => {
  it("waits until the screen is registered, connected and playing, then marks the slot good once", async () => {
    health.isStreamUp = false;
    health.isPlaying = false;
    const done = start();
    await clock.advance(60_000);
    expect(rauc.markGoodCalls).toBe(0);
    health.isStreamUp = true;
    await clock.advance(60_000);
    expect(rauc.markGoodCalls).toBe(0);
    health.isPlaying = true;
    await clock.advance(5_000);
    expect(await done).toBe("marked good");
    expect(rauc.markGoodCalls).toBe(1);
    await clock.advance(3_600_000);
    expect(rauc.markGoodCalls).toBe(1);
  });

  it("never marks a new slot its update still has to confirm: the health gate decides there", async () => {
    rauc.rebootInto("B");
    gateSlots = ["B"];
    expect(await start()).toBe("left to the update's health gate");
    expect(rauc.markGoodCalls).toBe(0);
  });

  it("marks the old slot good while an installed update waits for its reboot (only the new slot is the gate's)", async () => {
    gateSlots = ["B"];
    expect(await start()).toBe("marked good");
    expect(rauc.slot("A").bootStatus).toBe("good");
  });

  it("does nothing on a machine without RAUC", async () => {
    rauc.unavailable = "rauc: command not found";
    rauc.missing = true;
    expect(await start()).toBe("no RAUC");
    expect(rauc.markGoodCalls).toBe(0);
  });

  it("asks a busy or not yet started RAUC again after the retry period", async () => {
    rauc.unavailable = "already processing a different method";
    rauc.busy = true;
    const done = start();
    await clock.advance(0);
    await clock.advance(59_000);
    expect(rauc.markGoodCalls).toBe(0);
    rauc.unavailable = undefined;
    await clock.advance(1_000);
    expect(await done).toBe("marked good");
    expect(rauc.markGoodCalls).toBe(1);
  });

  it("tries mark-good again after a refusal", async () => {
    rauc.markGoodError = new Error("rauc status mark-good failed: Failed to mark slot good");
    const done = start();
    await clock.advance(0);
    expect(rauc.markGoodCalls).toBe(1);
    rauc.markGoodError = undefined;
    await clock.advance(60_000);
    expect(await done).toBe("marked good");
    expect(rauc.markGoodCalls).toBe(2);
  });

  it("ends when the player stops", async () => {
    health.isRegistered = false;
    const stop = new AbortController();
    const done = start(stop.signal);
    await clock.advance(10_000);
    stop.abort();
    expect(await done).toBe("stopped");
    expect(rauc.markGoodCalls).toBe(0);
  });
});
