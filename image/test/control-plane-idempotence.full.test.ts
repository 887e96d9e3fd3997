/**
 * The ansible `control_plane` role works on a booted Debian 12 and is idempotent: a freshly bootstrapped Debian
 * root file system (mmdebstrap, amd64) is booted with systemd-nspawn, the role is applied twice through the
 * nsenter connection (PostgreSQL started by systemd, database role and database, Node + release, units), the
 * second run changes nothing, and the running service answers /healthz and /readyz; then the backup unit, the
 * admin CLI wrapper and a restore of that backup run through the container's systemd. The cluster case does the
 * same (but the restore) with 3 replicas behind HAProxy (each replica and the front answer /readyz), then goes back
 * to one process and checks nothing of the cluster keeps running. Needs root and the host's ports 5432, 8443, 8081 and 8100-8105
 * free (the container shares the host's network). The two cases run one after the other (same ports), each in a
 * fresh container from the same Debian root and archives; a few minutes each.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapDebianRoot, repoDir, runProgram } from "./helpers.ts";

let work: string;
let prepared: Promise<{ rootfs: string; dist: string }> | undefined;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "avtech-cp-idempotence-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The Debian root and the archives, made once for both cases (mmdebstrap and packing take a minute or two). */
function prepare(): Promise<{ rootfs: string; dist: string }> {
  prepared ??= (async () => {
    const rootfs = join(work, "debian.tar");
    const strap = await bootstrapDebianRoot(rootfs);
    expect(strap.code, strap.stderr).toBe(0);
    const dist = join(work, "dist");
    const pack = await runProgram(join(repoDir, "ansible/package-control-plane.sh"), ["x64", dist]);
    expect(pack.code, pack.stdout + pack.stderr).toBe(0);
    return { rootfs, dist };
  })();
  return prepared;
}

/** What both cases check: two runs, the second changing nothing, the service up, the backup unit, the admin CLI. */
function expectInstalledAndIdempotent(out: string): void {
  expect(out).toMatch(/first run: \d+ s: .* failed=0 /);
  expect(out).toMatch(/idempotent: .* changed=0 .* failed=0 /);
  expect(out).toMatch(/\/healthz: 200/);
  expect(out).toMatch(/\/readyz: 200/);
  expect(out).toMatch(/backup: \/var\/backups\/avtech\/\d{8}T\d{6}Z/);
  expect(out).toMatch(/avtech-cp-admin tenants: SLUG +NAME +SCREENS +STORAGE/);
}

describe("ansible control_plane role", () => {
  it("installs a working control plane and changes nothing on a second run, in a booted Debian container", async () => {
    const { rootfs, dist } = await prepare();
    const check = await runProgram(join(repoDir, "ansible/check-control-plane-idempotence.sh"), [rootfs, dist]);
    const out = check.stdout + check.stderr;
    expectInstalledAndIdempotent(out);
    expect(out).toMatch(/restore: restored .*avtech\.dump into avtech/);
    expect(out).toMatch(/\/readyz after the restore: 200/);
    expect(check.code, out).toBe(0);
  }, 1_200_000);

  it("runs 3 replicas behind HAProxy idempotently, and going back to one process stops the replicas and HAProxy", async () => {
    const { rootfs, dist } = await prepare();
    const check = await runProgram(join(repoDir, "ansible/check-control-plane-idempotence.sh"), [
      rootfs,
      dist,
      "cluster",
    ]);
    const out = check.stdout + check.stderr;
    expectInstalledAndIdempotent(out);
    expect(out).toMatch(/front \/readyz over HTTP\/1\.1: 200/);
    for (const [n, port] of [
      [1, 8100],
      [2, 8102],
      [3, 8104],
    ]) {
      expect(out).toContain(`replica ${n} /readyz on ${port} (h2c): 200`);
      expect(out).toContain(`replica ${n} /readyz on ${Number(port) + 1} (HTTP/1.1): 200`);
    }
    expect(out).toMatch(/replicas trust: AVTECH_TRUSTED_PROXIES=127\.0\.0\.1\n/);
    expect(out).toMatch(/haproxy\.cfg servers: 3\n/);
    // 3 replicas x 33 connections + 20 for the tools: above Debian's default of 100.
    expect(out).toMatch(/PostgreSQL max_connections: 119\n/);
    expect(out).toMatch(/units: (active ){6}\n/);
    expect(out).toMatch(/back to one: \d+ s: .* failed=0 /);
    expect(out).toMatch(/active after going back to one: avtech-control-plane\.service \n/);
    expect(out).toMatch(/one process \/readyz: 200/);
    expect(out).toMatch(/back to one, idempotent: .* changed=0 .* failed=0 /);
    expect(check.code, out).toBe(0);
  }, 1_800_000);
});
