import { defineProject } from "vitest/config";
import { testExclude, testInclude } from "../vitest.shared.ts";

/** Tests of the repository itself (scripts/ is the root package's tooling, not a workspace): the import rules. */
export default defineProject({
  test: {
    name: "scripts",
    root: import.meta.dirname,
    include: testInclude,
    exclude: testExclude,
  },
});
