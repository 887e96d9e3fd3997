import { spawn } from "node:child_process";
import { glob, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Metric, metricsMarker } from "./metric.ts";

/**
 * Runs every `<workspace>/bench/*.bench.ts` (or the ones whose path contains an argument),
 * prints one table and writes bench/results.json so runs can be compared.
 */
const root = join(import.meta.dirname, "..");
const filters = process.argv.slice(2);
const scripts: string[] = [];
for await (const file of glob("*/bench/*.bench.ts", { cwd: root })) {
  if (filters.length === 0 || filters.some((filter) => file.includes(filter))) scripts.push(file);
}
scripts.sort();

const metrics: Metric[] = [];
const failures: string[] = [];
for (const script of scripts) {
  console.log(`\n== ${script}`);
  const { code, found } = await runScript(script);
  metrics.push(...found);
  if (code !== 0) failures.push(`${script} exited with ${code}`);
}

const rows = metrics.map((m) => [
  m.name,
  `${format(m.value)} ${m.unit}`,
  m.reference ? `${m.reference}: ${format(m.reference_value ?? Number.NaN)} ${m.unit}` : "",
  m.ratio === undefined ? "" : format(m.ratio),
  m.goal ?? "",
]);
printTable(["metric", "value", "reference", "ratio", "goal"], rows);
await writeFile(
  join(root, "bench", "results.json"),
  `${JSON.stringify({ measured_at: new Date().toISOString(), metrics }, null, 2)}\n`,
);
console.log(`\nwrote bench/results.json (${metrics.length} metrics from ${scripts.length} scripts)`);
if (scripts.length === 0) console.log("no benchmark scripts found");
if (failures.length > 0) {
  console.error(failures.join("\n"));
  process.exitCode = 1;
}

function runScript(script: string): Promise<{ code: number; found: Metric[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, script)], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    const found: Metric[] = [];
    let pending = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith(metricsMarker)) found.push(...(JSON.parse(line.slice(metricsMarker.length)) as Metric[]));
        else console.log(`  ${line}`);
      }
    });
    child.on("close", (code) => resolve({ code: code ?? 1, found }));
  });
}

function format(value: number): string {
  if (!Number.isFinite(value)) return "-";
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

function printTable(header: string[], body: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ");
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("-|-")}`);
  for (const row of body) console.log(line(row));
}
