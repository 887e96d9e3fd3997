/** Where screens GET a release's bundle: content-addressed like assets, on its own path and access rule. */
export const bundlePathPrefix = "/bundles/";

/** The URL (relative to the control plane) of the bundle with this sha256, as OsUpdate.bundle.url carries it. */
export function bundleUrl(sha256: string): string {
  return `${bundlePathPrefix}${sha256}`;
}
