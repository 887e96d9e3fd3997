/**
 * The dependency vulnerability gate: `npm audit` of the production dependencies of every workspace
 * (`--omit=dev`: what the server and the device bundle ship), against the registry's audit endpoint.
 *
 * Threshold: any advisory of severity high or critical fails the gate; moderate and low ones are
 * listed and pass. When the audit endpoint does not answer with a report (no network, or a registry
 * mirror without the endpoint, which answers 405), the gate says so and exits {@link exitNotRun}:
 * the check did not run, which is neither a pass nor a failure, and `make test` reports it as
 * "NOT RUN".
 *
 * `node scripts/audit.ts`: exit 0 passed, 1 failed, 3 not run.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";

/** Exit status when the audit could not run. */
export const exitNotRun = 3;
/** Severities that fail the gate. */
export const failingSeverities = ["high", "critical"] as const;

/** What one `npm audit --json` run says. */
export type AuditOutcome =
  | { kind: "passed"; counts: Record<string, number>; findings: string[] }
  | { kind: "failed"; counts: Record<string, number>; findings: string[] }
  | { kind: "not-run"; reason: string };

interface AuditReport {
  vulnerabilities?: Record<string, { name: string; severity: string; range?: string; via?: unknown[] }>;
  metadata?: { vulnerabilities?: Record<string, number> };
  message?: string;
  error?: { summary?: string; detail?: string } | string;
}

/** Reads `npm audit --json` output (with npm's stderr for the reason when there is no report). */
export function classifyAudit(stdout: string, stderr = ""): AuditOutcome {
  let report: AuditReport;
  try {
    report = JSON.parse(stdout) as AuditReport;
  } catch {
    return { kind: "not-run", reason: firstLine(stderr) || "npm audit printed no JSON report" };
  }
  const counts = report.metadata?.vulnerabilities;
  if (!counts || !report.vulnerabilities) {
    const error = typeof report.error === "string" ? report.error : report.error?.summary;
    return {
      kind: "not-run",
      reason: report.message || error || firstLine(stderr) || "npm audit returned no vulnerability report",
    };
  }
  const findings = Object.values(report.vulnerabilities)
    .map((v) => `${v.severity.padEnd(8)} ${v.name}${v.range ? ` ${v.range}` : ""}`)
    .sort();
  const failing = failingSeverities.reduce((sum, severity) => sum + (counts[severity] ?? 0), 0);
  return { kind: failing > 0 ? "failed" : "passed", counts, findings };
}

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((line) => line.trim())
      .find((line) => line !== "" && !/Unknown user config/.test(line)) ?? ""
  );
}

/** Runs `npm audit --omit=dev --json` at the repository root. */
export function runNpmAudit(cwd = resolve(import.meta.dirname, "..")): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done) => {
    // npm audit exits non-zero both for findings and for errors; the JSON tells them apart.
    execFile(
      "npm",
      ["audit", "--omit=dev", "--json"],
      { cwd, timeout: 120_000, maxBuffer: 64 * 2 ** 20 },
      (_error, stdout, stderr) => done({ stdout, stderr }),
    );
  });
}

if (import.meta.main) {
  const started = performance.now();
  const { stdout, stderr } = await runNpmAudit();
  const outcome = classifyAudit(stdout, stderr);
  const took = `${((performance.now() - started) / 1000).toFixed(1)} s`;
  if (outcome.kind === "not-run") {
    process.stdout.write(
      `dependency audit: NOT RUN (${took}): the registry's audit endpoint gave no report: ${outcome.reason}\n`,
    );
    process.exit(exitNotRun);
  }
  const summary = Object.entries(outcome.counts)
    .filter(([key]) => key !== "total")
    .map(([severity, n]) => `${n} ${severity}`)
    .join(", ");
  for (const finding of outcome.findings) process.stdout.write(`  ${finding}\n`);
  process.stdout.write(
    `dependency audit: ${outcome.kind === "passed" ? "passed" : "FAILED"} (${took}; production dependencies: ${summary}; ` +
      `fails on ${failingSeverities.join(" or ")})\n`,
  );
  process.exit(outcome.kind === "passed" ? 0 : 1);
}
