/**
 * Child process of cluster.bench.ts: one slice of the simulated fleet, so that no process holds more
 * than this machine's 20,000 descriptors (one per screen here) and the simulator's CPU is measured
 * apart from the servers'. Lean streams (the simulator costs the shared CPU as little as possible),
 * one HTTP/2 connection per screen like real players, the player's reconnect policy.
 *
 * Argument: one JSON object {baseUrl, enrollmentKey, count, hardwareIdPrefix, localAddress, connectTimeoutMs}.
 * Prints JSON lines on stdout: {"type":"ready", connected, ms} once every screen streams (or
 * {"type":"error", message} and exits 1). Then answers one line per stdin command:
 * - `stats`: {"type":"stats", connected, lastWelcomeAt} (the latest welcome of any screen, Date.now() ms)
 * - `mark`: {"type":"mark"} after noting every screen's welcome count
 * - `reconnects`: {"type":"reconnects", at: [...]}: when (Date.now() ms) each screen welcomed again
 *   since `mark` got its latest welcome
 * SIGTERM stops the streams and exits.
 */
import { createInterface } from "node:readline";
import { startFleetSimulator } from "@avtech/fleet-sim";

interface ChildArgs {
  baseUrl: string;
  enrollmentKey: string;
  count: number;
  hardwareIdPrefix: string;
  localAddress: string;
  connectTimeoutMs: number;
}

const args = JSON.parse(process.argv[2] ?? "{}") as ChildArgs;
const write = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);
const started = Date.now();
let simulator: Awaited<ReturnType<typeof startFleetSimulator>> | undefined;
process.on("SIGTERM", () => {
  void (simulator?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});
try {
  simulator = await startFleetSimulator({
    baseUrl: args.baseUrl,
    enrollmentKey: args.enrollmentKey,
    count: args.count,
    hardwareIdPrefix: args.hardwareIdPrefix,
    localAddress: args.localAddress,
    streamsPerConnection: 1,
    registrationConcurrency: 50,
    streams: "lean",
  });
  await simulator.whenConnected(args.connectTimeoutMs);
} catch (error) {
  write({ type: "error", message: error instanceof Error ? error.message : String(error) });
  await simulator?.stop();
  process.exit(1);
}
const sim = simulator;
write({ type: "ready", connected: sim.stats().connected, ms: Date.now() - started });

let marked: number[] = [];
createInterface({ input: process.stdin }).on("line", (line) => {
  switch (line) {
    case "stats":
      write({
        type: "stats",
        connected: sim.stats().connected,
        lastWelcomeAt: Math.max(...sim.screens.map((s) => s.lastWelcomeAt ?? 0)),
      });
      break;
    case "mark":
      marked = sim.screens.map((s) => s.welcomes);
      write({ type: "mark" });
      break;
    case "reconnects":
      write({
        type: "reconnects",
        at: sim.screens
          .filter((s, i) => s.welcomes > (marked[i] ?? 0))
          .map((s) => s.lastWelcomeAt ?? 0)
          .filter((at) => at > 0),
      });
      break;
  }
});
// The parent gone (stdin closed) means nobody will stop us: stop by ourselves.
process.stdin.on("end", () => {
  void sim.stop().finally(() => process.exit(0));
});
