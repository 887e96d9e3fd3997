import { defineProject } from "vitest/config";
import { testExclude, testInclude } from "../../vitest.shared.ts";

export default defineProject({
  test: {
    name: "fleet-sim",
    root: import.meta.dirname,
    include: ["*.test.ts", ...testInclude],
    exclude: testExclude,
    env: { LOG_LEVEL: "silent" },
  },
});
