import type { FailureReport, SyncReporter } from "../../src/reconcile/index.ts";

/** A report the recording reporter saw. */
export type SeenReport =
  | { type: "applied"; version: bigint }
  | { type: "failed"; version: bigint; failure: FailureReport; attempt: number };

/** A SyncReporter that records and lets tests wait for a report. */
export class RecordingReporter implements SyncReporter {
  readonly reports: SeenReport[] = [];
  /** Also passes every report on (e.g. to the Link under test). */
  forward: SyncReporter | undefined;
  readonly #waiters: { match: (r: SeenReport) => boolean; resolve: (r: SeenReport) => void }[] = [];

  applied(version: bigint, at: Date): void {
    this.#push({ type: "applied", version });
    this.forward?.applied(version, at);
  }

  failed(version: bigint, failure: FailureReport, attempt: number): void {
    this.#push({ type: "failed", version, failure, attempt });
    this.forward?.failed(version, failure, attempt);
  }

  /** Resolves with the first report (past or future) that matches. */
  waitFor(match: (r: SeenReport) => boolean): Promise<SeenReport> {
    const seen = this.reports.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  #push(report: SeenReport): void {
    this.reports.push(report);
    for (const w of [...this.#waiters]) {
      if (w.match(report)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(report);
      }
    }
  }
}
