/**
 * Test selection shared by every workspace. `make test` runs the fast suites; heavy suites are
 * named `*.full.test.ts` and run only under `make test-full` (AVTECH_TEST_FULL=1). Nothing is
 * skipped at run time: a suite is either selected or not collected at all. (The console test's
 * fake-only checks are `it.runIf`, skipped only when a person points that file at a real server.)
 */
const full = process.env.AVTECH_TEST_FULL === "1";

export const testInclude = ["src/**/*.test.ts", "test/**/*.test.ts"];
export const testExclude = full ? ["**/node_modules/**"] : ["**/node_modules/**", "**/*.full.test.ts"];
