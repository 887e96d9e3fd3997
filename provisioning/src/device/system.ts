import { execFile } from "node:child_process";
import { access, chmod, mkdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DeviceSystem } from "./apply.ts";

const serialPaths = ["/sys/firmware/devicetree/base/serial-number", "/proc/device-tree/serial-number"];

/** The real {@link DeviceSystem} of a screen. */
export const realSystem: DeviceSystem = {
  async serialNumber() {
    for (const path of serialPaths) {
      try {
        return (await readFile(path, "utf8")).replace(/\0/g, "").trim();
      } catch {
        // Not a Raspberry Pi (or an older kernel path): try the next one.
      }
    }
    return undefined;
  },
  async exists(path) {
    try {
      await access(path);
      return true;
    } catch {
      return false;
    }
  },
  async mkdir(path, mode) {
    await mkdir(path, { recursive: true, mode });
    await chmod(path, mode);
  },
  async writeFile(path, content, mode) {
    const tmp = join(dirname(path), `.${Date.now()}.tmp`);
    await writeFile(tmp, content, { mode });
    await rename(tmp, path);
  },
  async symlink(target, path) {
    await rm(path, { force: true });
    await symlink(target, path);
  },
  run(command, args) {
    return new Promise((resolve, reject) => {
      execFile(command, [...args], (error, _stdout, stderr) => {
        if (error === null) resolve();
        else reject(new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
      });
    });
  },
};
