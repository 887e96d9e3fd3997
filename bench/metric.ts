/** One benchmark result, measured side by side with a reference on the same run where one exists. */
export interface Metric {
  /** Stable name, e.g. "control-plane.ingest.throughput". */
  name: string;
  value: number;
  unit: string;
  /** What the value is compared with, e.g. "sha256sum of the same file"; absent when none. */
  reference?: string;
  reference_value?: number;
  /** value / reference_value, oriented so that higher is better where the goal says so. */
  ratio?: number;
  /** The goal in words, e.g. ">= 0.5 of sha256sum". */
  goal?: string;
}

/**
 * A benchmark script (any `<workspace>/bench/*.bench.ts`) prints its metrics as one JSON line
 * prefixed with this marker on stdout; everything else it prints is shown as progress.
 */
export const metricsMarker = "AVTECH_METRICS ";

/** Prints metrics for bench/run.ts to collect. */
export function reportMetrics(metrics: Metric[]): void {
  process.stdout.write(`${metricsMarker}${JSON.stringify(metrics)}\n`);
}
