import { execFile } from "node:child_process";
import type { Runner } from "./fat.ts";

/** The real {@link Runner}: execFile with a message that names the missing package when a tool is absent. */
export const processRunner: Runner = {
  run(command, args) {
    return new Promise((resolve, reject) => {
      execFile(command, [...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
        } else if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          reject(new Error(`${command} not found: install mtools (apt-get install mtools)`));
        } else {
          reject(new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
        }
      });
    });
  },
};
