/**
 * A player stand-in for orphan tests: starts the engine on real mpv in `argv[2]` (runtime dir),
 * prints mpv's pid on stdout and waits to be killed.
 */
import pino from "pino";
import { createMpvPlayback } from "../../src/playback/index.ts";

const diagnostics: number[] = [];
const playback = createMpvPlayback({
  runtimeDir: process.argv[2] ?? "",
  extraArgs: ["--vo=null", "--ao=null"],
  logger: pino({ level: "silent" }),
  slateSize: { width: 320, height: 180 },
  onDiagnostic: (d) => {
    if (d.kind === "mpv-ready" && d.pid !== undefined) diagnostics.push(d.pid);
  },
});
await playback.start(AbortSignal.timeout(10_000));
process.stdout.write(`${diagnostics[0]}\n`);
setInterval(() => {}, 60_000);
