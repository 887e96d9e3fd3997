import { describe, expect, it } from "vitest";
import { classifyAudit } from "../audit.ts";

/** `npm audit --json` (report version 2) with the given severities, one advisory each. */
function report(severities: string[]): string {
  const vulnerabilities = Object.fromEntries(
    severities.map((severity, i) => [`pkg${i}`, { name: `pkg${i}`, severity, range: "<1.2.3", via: [] }]),
  );
  const counts = { info: 0, low: 0, moderate: 0, high: 0, critical: 0 } as Record<string, number>;
  for (const severity of severities) counts[severity] = (counts[severity] ?? 0) + 1;
  return JSON.stringify({
    auditReportVersion: 2,
    vulnerabilities,
    metadata: { vulnerabilities: { ...counts, total: severities.length } },
  });
}

// What this machine's registry mirror answers (captured from `npm audit --omit=dev --json`, headers trimmed).
const mirror405 = JSON.stringify({
  message: "405 Method Not Allowed - POST <registry>/-/npm/v1/security/advisories/bulk",
  method: "POST",
  statusCode: 405,
  body: "",
  error: { summary: "", detail: "" },
});

describe("the dependency audit gate (scripts/audit.ts)", () => {
  it("passes a report with no advisory, and one with only moderate and low ones", () => {
    expect(classifyAudit(report([]))).toMatchObject({ kind: "passed", findings: [] });
    const outcome = classifyAudit(report(["moderate", "low"]));
    expect(outcome).toMatchObject({ kind: "passed", counts: { moderate: 1, low: 1 } });
    expect(outcome.kind !== "not-run" && outcome.findings).toEqual(["low      pkg1 <1.2.3", "moderate pkg0 <1.2.3"]);
  });

  it("fails on a high or a critical advisory", () => {
    expect(classifyAudit(report(["high"])).kind).toBe("failed");
    expect(classifyAudit(report(["low", "critical"])).kind).toBe("failed");
  });

  it("says it did not run, with the reason, when the endpoint gives no report", () => {
    expect(classifyAudit(mirror405)).toEqual({
      kind: "not-run",
      reason: "405 Method Not Allowed - POST <registry>/-/npm/v1/security/advisories/bulk",
    });
    expect(classifyAudit("", "npm error code ENOTFOUND\nnpm error network request failed")).toEqual({
      kind: "not-run",
      reason: "npm error code ENOTFOUND",
    });
    expect(classifyAudit("{}")).toMatchObject({ kind: "not-run" });
  });
});
