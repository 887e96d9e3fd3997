/**
 * Child process of fleet.bench.ts and play-ingest.bench.ts: runs the fleet simulator so its memory
 * and CPU are not counted in the server's. Args: baseUrl enrollmentKey count streamsPerConnection
 * streams ("lean" or "connect", see FleetSimulatorOptions.streams) [plays: SimulatedPlays as JSON].
 * Prints one JSON line when every screen is connected, then runs until SIGTERM; with plays, the
 * screens start playing when a line "plays" arrives on stdin.
 */
import { createInterface } from "node:readline";
import { type SimulatedPlays, startFleetSimulator } from "@avtech/fleet-sim";

const [baseUrl = "", enrollmentKey = "", count = "0", streamsPerConnection = "1", streams = "lean", plays = ""] =
  process.argv.slice(2);
const started = Date.now();
const simulator = await startFleetSimulator({
  baseUrl,
  enrollmentKey,
  count: Number(count),
  streamsPerConnection: Number(streamsPerConnection),
  registrationConcurrency: 50,
  streams: streams === "connect" ? "connect" : "lean",
  plays: plays ? (JSON.parse(plays) as SimulatedPlays) : undefined,
});
await simulator.whenConnected(300_000);
process.stdout.write(`${JSON.stringify({ connected: simulator.stats().connected, ms: Date.now() - started })}\n`);
if (plays) {
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line === "plays") simulator.startPlays();
    if (line === "stats") process.stdout.write(`${JSON.stringify(simulator.stats())}\n`);
  });
}
process.on("SIGTERM", () => {
  void simulator.stop().then(() => process.exit(0));
});
