import { defineProject } from "vitest/config";
import { testExclude, testInclude } from "../vitest.shared.ts";

export default defineProject({
  test: {
    name: "image",
    root: import.meta.dirname,
    include: testInclude,
    exclude: testExclude,
    testTimeout: 600_000,
    hookTimeout: 3_600_000,
  },
});
