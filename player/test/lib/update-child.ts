/**
 * The player's OS update module in its own process, for the kill -9 test: the real RAUC command
 * line (the service on the bus named by the environment), the real downloader against the asset
 * server at `baseUrl`, data in `dataDir`. Converges on the desired state in `stateFile` (binary
 * protobuf) and prints "BOOTED" once open, "PHASE <name>" for each report and "REBOOT" when it asks
 * for the reboot, then exits. Health and clip boundaries are fakes: they are not what is tested.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { UpdatePhase } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import pino from "pino";
import { createHttpGetter, statfsProbe } from "../../src/assets/index.ts";
import { systemClock } from "../../src/lib/index.ts";
import { createRaucCli, UpdateManager, UpdateStore } from "../../src/update/index.ts";
import { FakeClips, FakeHealth } from "./fake-rauc.ts";

const [dataDir, baseUrl, stateFile] = process.argv.slice(2);
if (!dataDir || !baseUrl || !stateFile) throw new Error("usage: update-child.ts <dataDir> <baseUrl> <stateFile>");
const target = fromBinary(DesiredStateSchema, await readFile(stateFile));
const dir = join(dataDir, "v1", "update");
let rebooted: () => void = () => {};
const reboot = new Promise<void>((resolve) => {
  rebooted = resolve;
});
const manager = new UpdateManager({
  rauc: createRaucCli(),
  rebooter: {
    async reboot() {
      process.stdout.write("REBOOT\n");
      rebooted();
    },
  },
  health: new FakeHealth(),
  clips: new FakeClips(),
  store: new UpdateStore(join(dir, "update.json")),
  dir,
  space: statfsProbe,
  http: createHttpGetter(),
  resolveUrl: (url) => new URL(url, baseUrl),
  reporter: { updateReport: (r) => process.stdout.write(`PHASE ${UpdatePhase[r.phase]}\n`) },
  clock: systemClock,
  logger: pino({ level: "silent" }),
  bootId: "boot-1",
  imageVersionFallback: async () => "2026.12.1",
  timezoneOf: () => "UTC",
  // Kills during `rauc install` are the point here, so their cap (tested elsewhere) is lifted.
  options: { maxInstallAttempts: 1_000, busyRetryMs: 200, progressIntervalMs: 100 },
});
await manager.open();
process.stdout.write("BOOTED\n");
void manager.setDesired(target);
await reboot;
await manager.stop();
process.exit(0);
