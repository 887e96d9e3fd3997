export type { BundleOptions, BundleResult } from "./bundle.ts";
export { bundlePlayer, defaultOutfile, optionalExternals } from "./bundle.ts";
