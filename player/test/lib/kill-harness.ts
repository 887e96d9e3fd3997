import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DesiredState, DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { toBinary } from "@bufbuild/protobuf";
import { StateStore } from "../../src/reconcile/index.ts";
import { stateLayout } from "../../src/storage/index.ts";
import { type AssetServer, bytesOf, startAssetServer } from "./asset-server.ts";
import { desiredState } from "./states.ts";

const child = join(import.meta.dirname, "reconcile-child.ts");
// Room for the playing and the target state together (the quota never evicts either), plus
// one unreferenced clip, so evictions happen without making QUOTA_EXCEEDED the normal case.
const maxMediaBytes = 8_500_000;
/** A run that has not acked by then counts as not converging (and is killed). */
const runTimeoutMs = 60_000;

/** What one kill -9 campaign saw. */
export interface KillReport {
  kills: number;
  /** Runs that reached ACKED before the kill landed. */
  ackedBeforeKill: number;
  violations: string[];
  finalVersion: bigint;
}

/** A small seeded PRNG (mulberry32), so a failing campaign can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the child once; kills it with SIGKILL `killAfterMs` after it booted (never when undefined). */
function runChild(
  dataDir: string,
  baseUrl: string,
  stateFile: string,
  killAfterMs: number | undefined,
): Promise<{ acked: bigint | undefined; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dataDir, baseUrl, stateFile, String(maxMediaBytes)], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, LOG_LEVEL: "silent" },
    });
    let acked: bigint | undefined;
    let killed = false;
    let out = "";
    const guard = setTimeout(() => proc.kill("SIGKILL"), runTimeoutMs);
    proc.stdout.setEncoding("utf8");
    proc.stdout.on("data", (chunk: string) => {
      out += chunk;
      if (killAfterMs !== undefined && out.includes("BOOTED") && !killed) {
        killed = true;
        setTimeout(() => proc.kill("SIGKILL"), killAfterMs);
      }
      const match = /ACKED (\d+)/.exec(out);
      if (match) acked = BigInt(match[1] ?? "0");
    });
    proc.on("error", reject);
    proc.on("exit", () => {
      clearTimeout(guard);
      resolve({ acked, killed: killed && proc.signalCode === "SIGKILL" });
    });
  });
}

/** Every non-part file in the media folder must hash to its name: no partial file is ever visible. */
async function mediaViolations(mediaDir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const name of await readdir(mediaDir)) {
    if (name.endsWith(".part")) continue;
    const actual = createHash("sha256")
      .update(await readFile(join(mediaDir, name)))
      .digest("hex");
    if (actual !== name) problems.push(`media/v1/${name} holds ${actual}`);
  }
  return problems;
}

/**
 * SQLite-style crash test: converge on a sequence of desired states, SIGKILL the process at a
 * random moment of each run, restart, and check after every kill that the state file is whole
 * and is either the last acked version or the one being applied, and that no partial file is
 * visible in media/v1. Finally a run without kill must converge.
 */
export async function killCampaign(runs: number, maxDelayMs: number, random = Math.random): Promise<KillReport> {
  const server: AssetServer = await startAssetServer();
  server.chunkDelayMs = 4;
  const dataDir = await mkdtemp(join(tmpdir(), "avtech-kill-"));
  const layout = stateLayout(dataDir, join(dataDir, "media"));
  try {
    // Every version brings two new clips and keeps one of the previous version's, so each run
    // downloads, and the 6 MB quota forces evictions (which the kills also interrupt).
    const clip = (n: number) => {
      const body = bytesOf(1_000_000 + n * 1_000, 100 + n);
      const sha256 = server.add(body);
      return { sha256, sizeBytes: body.length, url: `/assets/${sha256}` };
    };
    const clips = Array.from({ length: 2 * (runs + 1) + 1 }, (_, n) => clip(n));
    const states: DesiredState[] = Array.from({ length: runs + 1 }, (_, i) =>
      desiredState({
        version: i + 1,
        playlists: { main: [clips[2 * i], clips[2 * i + 1], clips[2 * i + 2]].filter((c) => c !== undefined) },
      }),
    );
    const violations: string[] = [];
    let lastAcked: bigint | undefined;
    let ackedBeforeKill = 0;
    let kills = 0;
    const store = new StateStore(layout.lastGoodFile);
    for (let i = 0; i < runs; i++) {
      const state = states[i] as DesiredState;
      const stateFile = join(dataDir, `target-${i}.binpb`);
      await writeFile(stateFile, toBinary(DesiredStateSchema, state));
      const result = await runChild(dataDir, server.baseUrl, stateFile, Math.floor(random() * maxDelayMs));
      if (result.killed) kills++;
      if (result.acked !== undefined) {
        lastAcked = result.acked;
        if (result.killed) ackedBeforeKill++;
      }
      const loaded = await store.load();
      if (loaded.type === "Corrupt") violations.push(`run ${i}: torn state file: ${loaded.error.message}`);
      const onDisk = loaded.type === "Found" ? loaded.state.version : undefined;
      if (onDisk !== lastAcked && onDisk !== state.version) {
        violations.push(`run ${i}: state file holds v${onDisk}, last acked v${lastAcked}, applying v${state.version}`);
      }
      if (onDisk !== undefined && onDisk === state.version) lastAcked = onDisk;
      violations.push(...(await mediaViolations(layout.mediaDir)).map((p) => `run ${i}: ${p}`));
    }
    const final = states[runs] as DesiredState;
    const finalFile = join(dataDir, "target-final.binpb");
    await writeFile(finalFile, toBinary(DesiredStateSchema, final));
    const last = await runChild(dataDir, server.baseUrl, finalFile, undefined);
    if (last.acked !== final.version) violations.push(`final run did not converge (acked ${last.acked})`);
    violations.push(...(await mediaViolations(layout.mediaDir)).map((p) => `final: ${p}`));
    return { kills, ackedBeforeKill, violations, finalVersion: last.acked ?? 0n };
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
