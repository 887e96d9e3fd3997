import { defineProject } from "vitest/config";
import { testExclude, testInclude } from "../../vitest.shared.ts";

export default defineProject({
  test: {
    name: "io",
    root: import.meta.dirname,
    include: testInclude,
    exclude: testExclude,
    env: { LOG_LEVEL: "silent" },
  },
});
