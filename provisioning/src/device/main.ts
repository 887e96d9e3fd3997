/**
 * avtech-boot-config: applies avtech-system.toml from the boot partition at every boot (run by
 * avtech-boot-config.service as root). Prints one line per step for the journal; exits 1 with the reason when
 * the settings file is invalid, so `systemctl status avtech-boot-config` shows what to fix.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { parseSystemSettings } from "../site/index.ts";
import { applySystemSettings } from "./apply.ts";
import { realSystem } from "./system.ts";

const { values } = parseArgs({
  options: {
    system: { type: "string", default: "/boot/firmware/avtech-system.toml" },
    player: { type: "string", default: "/boot/firmware/avtech.toml" },
    "runtime-dir": { type: "string", default: "/run/avtech" },
    "state-dir": { type: "string", default: "/var/lib/avtech/system" },
  },
});

try {
  const settings = parseSystemSettings(await readFile(values.system, "utf8"), values.system);
  const playerToml = await readFile(values.player, "utf8").catch(() => undefined);
  const done = await applySystemSettings(
    settings,
    playerToml,
    { runtimeDir: values["runtime-dir"], stateDir: values["state-dir"], zoneinfoDir: "/usr/share/zoneinfo" },
    realSystem,
  );
  for (const line of done) console.log(line);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
