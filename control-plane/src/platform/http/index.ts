export { consoleAssetsDir, createConsoleStaticRoute, defaultConsoleDist } from "./console-static.ts";
export { parseRange } from "./range.ts";
