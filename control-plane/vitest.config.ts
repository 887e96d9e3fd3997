import { defineProject } from "vitest/config";
import { testExclude, testInclude } from "../vitest.shared.ts";

export default defineProject({
  test: {
    name: "control-plane",
    root: import.meta.dirname,
    include: testInclude,
    exclude: testExclude,
    globalSetup: ["./test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { LOG_LEVEL: "silent" },
  },
});
