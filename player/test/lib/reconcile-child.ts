/**
 * A player's offline core in its own process, for the kill -9 tests: boots from `dataDir`
 * (playing the last good state), converges on the desired state in `stateFile` (binary
 * protobuf) from the asset server at `baseUrl` within `maxMediaBytes`, prints "BOOTED" and "ACKED <version>" on
 * stdout, and exits after the ack.
 */

import { readFile } from "node:fs/promises";
import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import { startDevice } from "./device.ts";

const [dataDir, baseUrl, stateFile, maxMediaBytes] = process.argv.slice(2);
if (!dataDir || !baseUrl || !stateFile || !maxMediaBytes) {
  throw new Error("usage: reconcile-child.ts <dataDir> <baseUrl> <stateFile> <maxMediaBytes>");
}
const target = fromBinary(DesiredStateSchema, await readFile(stateFile));
const device = await startDevice({ dataDir, baseUrl, maxMediaBytes: Number(maxMediaBytes) });
process.stdout.write("BOOTED\n");
const acked = device.reporter.waitFor((r) => r.type === "applied" && r.version === target.version);
void device.reconciler.setTarget(target);
await acked;
process.stdout.write(`ACKED ${target.version}\n`);
await device.stop();
process.exit(0);
