/**
 * Child process of fleet.bench.ts: runs the fleet simulator so its memory and CPU are not
 * counted in the server's. Args: baseUrl enrollmentKey count streamsPerConnection streams
 * ("lean" or "connect", see FleetSimulatorOptions.streams). Prints one JSON line when every
 * screen is connected, then runs until SIGTERM.
 */
import { startFleetSimulator } from "@avtech/fleet-sim";

const [baseUrl = "", enrollmentKey = "", count = "0", streamsPerConnection = "1", streams = "lean"] =
  process.argv.slice(2);
const started = Date.now();
const simulator = await startFleetSimulator({
  baseUrl,
  enrollmentKey,
  count: Number(count),
  streamsPerConnection: Number(streamsPerConnection),
  registrationConcurrency: 50,
  streams: streams === "connect" ? "connect" : "lean",
});
await simulator.whenConnected(300_000);
process.stdout.write(`${JSON.stringify({ connected: simulator.stats().connected, ms: Date.now() - started })}\n`);
process.on("SIGTERM", () => {
  void simulator.stop().then(() => process.exit(0));
});
