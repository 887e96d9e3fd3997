/**
 * `@avtech/control-plane/testing`: test support other workspaces may use, kept out of the
 * server's main entry (`@avtech/control-plane`) so nothing that embeds the control plane ships
 * it. It imports vitest and the PostgreSQL test fixture, so import it from tests only. The
 * control plane's own tests import the modules of test/lib directly.
 */

export type { TestBrowser } from "../console/browser.ts";
export { ensureConsoleBuilt, launchBrowser } from "../console/browser.ts";
export type { RealControlPlane, RealControlPlaneOptions } from "./real-control-plane.ts";
export { startRealControlPlane } from "./real-control-plane.ts";
export type { S3Emulator } from "./s3-emulator.ts";
export { startS3Emulator } from "./s3-emulator.ts";
