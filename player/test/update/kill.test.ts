import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import { RebootPolicy } from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRaucCli, UpdateStore } from "../../src/update/index.ts";
import { type AssetServer, startAssetServer } from "../lib/asset-server.ts";
import { seededRandom } from "../lib/kill-harness.ts";
import { makeBundle, makeSigningKeys, missingRaucTools, RaucSystem } from "../lib/rauc-system.ts";

const child = join(import.meta.dirname, "..", "lib", "update-child.ts");
let dir: string;
let system: RaucSystem;
let server: AssetServer;
let stateFile: string;
let bundleSha: string;
let bundleBytes: number;

beforeAll(async () => {
  const missing = await missingRaucTools();
  if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}: run scripts/setup.sh`);
  dir = await mkdtemp(join(tmpdir(), "avtech-update-kill-"));
  const keys = await makeSigningKeys(join(dir, "keys"), "dev");
  // About 9 MiB of bundle (more than the downloader's 4 MiB write batches, so a kill can leave a
  // part to resume from), served at a pace that lets kills land in the download and after it.
  const bundle = await makeBundle(
    dir,
    join(dir, "update.raucb"),
    keys,
    { compatible: "avtech-test", version: "2026.12.2" },
    11,
    { imageMiB: 12, noiseBytes: 9 * 1024 * 1024 },
  );
  system = await RaucSystem.create(join(dir, "system"), keys.caCert, "avtech-test");
  await system.boot("A");
  server = await startAssetServer();
  // Paced so the whole download (about 11 s) outlasts the four download kills together (at most
  // 4 x 2.7 s): every one of them lands in the download however fast the machine is (at 20 ms a
  // chunk the download took about 3 s, and on a quiet machine a later kill came after it ended).
  server.chunkDelayMs = 30;
  const body = await readFile(bundle);
  const sha = server.add(body);
  bundleSha = sha;
  bundleBytes = body.length;
  stateFile = join(dir, "state.binpb");
  await writeFile(
    stateFile,
    toBinary(
      DesiredStateSchema,
      create(DesiredStateSchema, {
        version: 1n,
        osUpdate: {
          rolloutId: "ro-1",
          releaseId: "rel-1",
          version: "2026.12.2",
          compatible: "avtech-test",
          bundle: { sha256: sha, sizeBytes: BigInt(body.length), url: `/assets/${sha}` },
          rebootPolicy: RebootPolicy.NOW,
        },
      }),
    ),
  );
}, 60_000);

afterAll(async () => {
  await server?.close();
  await system?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * One start of the player's update module, SIGKILLed `killAfterMs` after `marker` first appears on
 * its output ("BOOTED", "PHASE INSTALLING", …); never killed when `kill` is undefined.
 */
function runChild(
  dataDir: string,
  kill: { marker: string; afterMs: number } | { partFile: string } | undefined,
): Promise<{ out: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dataDir, server.baseUrl, stateFile], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...system.env, LOG_LEVEL: "silent" },
    });
    let out = "";
    let armed = false;
    const guard = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    proc.stdout.setEncoding("utf8");
    // A kill aimed at a partly downloaded bundle waits for the first write batch on disk, however
    // slow the machine is, so at least one restart has a part to resume from.
    const poll =
      kill && "partFile" in kill
        ? setInterval(() => {
            void stat(kill.partFile).then(
              (part) => {
                if (part.size > 0) proc.kill("SIGKILL");
              },
              () => undefined,
            );
          }, 20)
        : undefined;
    proc.stdout.on("data", (chunk: string) => {
      out += chunk;
      if (kill && "marker" in kill && !armed && out.includes(`${kill.marker}\n`)) {
        armed = true;
        setTimeout(() => proc.kill("SIGKILL"), kill.afterMs);
      }
    });
    proc.on("error", reject);
    proc.on("exit", () => {
      clearTimeout(guard);
      clearInterval(poll);
      resolve({ out, killed: proc.signalCode === "SIGKILL" });
    });
  });
}

describe("kill -9 during an OS update (real RAUC, real downloader)", () => {
  it("the state file always parses, every restart goes on where it was, and the update ends installed", async () => {
    const seed = 7;
    const random = seededRandom(seed);
    const dataDir = join(dir, "data");
    const store = new UpdateStore(join(dataDir, "v1", "update", "update.json"));
    const seen: string[] = [];
    const resumes: string[] = [];
    let kills = 0;
    // Kills aimed at each phase: one once part of the bundle is on disk, then at seeded random moments
    // inside each phase: four while the bundle
    // downloads (it takes about 11 s), three inside `rauc install`, one right after it.
    const plan = [
      { partFile: join(dataDir, "v1", "update", `${bundleSha}.raucb.part`) },
      ...Array.from({ length: 4 }, () => ({ marker: "BOOTED", afterMs: 200 + Math.floor(random() * 2_500) })),
      ...Array.from({ length: 3 }, () => ({ marker: "PHASE INSTALLING", afterMs: Math.floor(random() * 150) })),
      { marker: "PHASE REBOOTING", afterMs: 0 },
    ];
    for (const [run, kill] of plan.entries()) {
      const { out, killed } = await runChild(dataDir, kill);
      if (killed) kills++;
      const loaded = await store.load();
      expect(loaded.type, `seed ${seed}, run ${run}: ${out}`).not.toBe("Corrupt");
      if (loaded.type === "Found") {
        seen.push(loaded.record.phase);
        expect(["downloading", "installing", "rebooting"], `seed ${seed}, run ${run}`).toContain(loaded.record.phase);
        const part = await stat(join(dataDir, "v1", "update", `${loaded.record.bundle.sha256}.raucb.part`)).catch(
          () => undefined,
        );
        // A whole part (killed while it was being verified) is checked again, not fetched again.
        if (killed && loaded.record.phase === "downloading" && part && part.size > 0 && part.size < bundleBytes)
          resumes.push(`bytes=${part.size}-`);
      }
      if (out.includes("REBOOT\n")) break;
    }
    const before = await store.load();
    const last = await runChild(dataDir, undefined);
    expect(last.out, `seed ${seed}`).toContain("REBOOT\n");
    // Installed before this start: it goes straight to the reboot, no second install.
    if (before.type === "Found" && before.record.phase === "rebooting") {
      expect(last.out, `seed ${seed}`).not.toContain("PHASE INSTALLING");
    }
    expect(kills, `seed ${seed}, phases at the kills: ${seen.join(" ")}`).toBeGreaterThanOrEqual(4);
    // A kill that left part of the bundle on disk: the next start asked only for the rest.
    const ranges = server.requests.map((r) => r.range);
    for (const range of resumes) expect(ranges, `seed ${seed}`).toContain(range);
    expect(resumes.length, `seed ${seed}, phases at the kills: ${seen.join(" ")}`).toBeGreaterThanOrEqual(1);

    const loaded = await store.load();
    expect(loaded).toMatchObject({ type: "Found", record: { phase: "rebooting", targetSlot: "B" } });
    const status = await createRaucCli({ env: system.env }).status();
    expect(status.primary).toBe("B");
    expect(status.slots.find((s) => s.bootname === "B")?.bundleVersion).toBe("2026.12.2");
    expect(await readdir(join(dataDir, "v1", "update"))).toEqual(["update.json"]);
  }, 180_000);
});
