/**
 * The monitoring files the control_plane role ships (ansible/roles/control_plane/files/monitoring): the Prometheus
 * alert rules pass `promtool check rules` and their unit tests (monitoring/avtech-alerts.test.yml: each alert fires
 * on the series it is for and stays quiet otherwise), and every metric the rules and the Grafana dashboard query is
 * one the real control plane exports on /metrics. promtool comes from Debian's prometheus package, put into
 * .toolchain/bin by scripts/setup.sh.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type RealControlPlane, startRealControlPlane } from "@avtech/control-plane/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repoDir = join(import.meta.dirname, "..", "..");
const monitoringDir = join(repoDir, "ansible/roles/control_plane/files/monitoring");
const rulesFile = join(monitoringDir, "avtech-alerts.rules.yml");
const dashboardFile = join(monitoringDir, "avtech-grafana-dashboard.json");
const promtool = join(repoDir, ".toolchain/bin/promtool");

/** Metric names in PromQL: identifiers followed by `{`, `[`, `)` or whitespace, minus functions and keywords. */
function metricNames(expressions: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const expression of expressions) {
    const withoutStrings = expression.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, "{}");
    for (const match of withoutStrings.matchAll(/\b([a-z_][a-z0-9_:]*)\b(?!\s*\()/gi)) {
      const name = match[1] ?? "";
      if (!name.includes("_") || /^(by|without|on|ignoring|and|or|unless|le)$/.test(name)) continue;
      names.add(name);
    }
  }
  return names;
}

/** The base metric a series name belongs to (histogram series end in _bucket, _sum, _count). */
const baseName = (name: string) => name.replace(/_(bucket|sum|count)$/, "");

describe("monitoring files of the control_plane role", () => {
  let cp: RealControlPlane;
  let exported: Set<string>;

  beforeAll(async () => {
    cp = await startRealControlPlane();
    const scrape = await (await fetch(`${cp.addresses.http1Url}/metrics`)).text();
    exported = new Set([...scrape.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1] ?? ""));
  }, 120_000);
  afterAll(() => cp?.close());

  it("the alert rules pass promtool's check and its unit tests", async () => {
    const check = await run(promtool, ["check", "rules", rulesFile]);
    expect(check.stdout).toMatch(/SUCCESS: \d+ rules found/);
    const tests = await run(promtool, ["test", "rules", "avtech-alerts.test.yml"], {
      cwd: join(import.meta.dirname, "monitoring"),
    });
    expect(tests.stdout).toMatch(/SUCCESS/);
  });

  it("every metric the rules and the dashboard query is one the control plane exports", () => {
    const rules = readFileSync(rulesFile, "utf8");
    const ruleExpressions = [...rules.matchAll(/expr: (?:\|\n((?:\s{10,}.*\n)+)|(.*))/g)].map(
      (match) => match[1] ?? match[2] ?? "",
    );
    const recorded = new Set([...rules.matchAll(/- record: (\S+)/g)].map((match) => match[1] ?? ""));
    const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const dashboardExpressions = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    expect(ruleExpressions.length).toBeGreaterThanOrEqual(10);
    expect(dashboardExpressions.length).toBeGreaterThanOrEqual(12);

    const queried = metricNames([...ruleExpressions, ...dashboardExpressions]);
    const unknown = [...queried].filter((name) => !recorded.has(name) && !exported.has(baseName(name)));
    // `up` is Prometheus' own; every other name must come from our /metrics.
    expect(unknown).toEqual([]);
    for (const name of [
      "avtech_screens",
      "avtech_screens_online",
      "avtech_publish_to_ack_seconds",
      "avtech_syncs_applied_total",
      "avtech_sync_failures_total",
      "avtech_tenant_stored_bytes",
    ]) {
      expect(queried.has(name) || queried.has(`${name}_bucket`)).toBe(true);
    }
  });
});
