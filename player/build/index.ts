export type { BundleOptions, BundleResult } from "./bundle.ts";
export { bundlePlayer, defaultOutfile, deviceNodeFlags, optionalExternals } from "./bundle.ts";
