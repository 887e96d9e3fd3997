export { consoleAssetsDir, createConsoleStaticRoute, defaultConsoleDist } from "./console-static.ts";
export type { VideoRoutesDeps } from "./videos.ts";
export { createVideoRoutes } from "./videos.ts";
