import { defineProject } from "vitest/config";
import { testExclude, testInclude } from "../vitest.shared.ts";

export default defineProject({
  test: {
    name: "provisioning",
    root: import.meta.dirname,
    include: testInclude,
    exclude: testExclude,
    env: { LOG_LEVEL: "silent" },
    // Most tests run the CLI as a child process (a Node start each, 1-2 s on a busy 2-core machine) against a
    // real control plane: 5 s failed at 5.09 s under load.
    testTimeout: 30_000,
  },
});
