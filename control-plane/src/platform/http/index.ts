export { consoleAssetsDir, createConsoleStaticRoute, defaultConsoleDist } from "./console-static.ts";
