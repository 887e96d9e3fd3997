/**
 * The ansible `control_plane` role works on a booted Debian 12 and is idempotent: a freshly bootstrapped Debian
 * root file system (mmdebstrap, amd64) is booted with systemd-nspawn, the role is applied twice through the
 * nsenter connection (PostgreSQL started by systemd, database role and database, Node + release, units), the
 * second run changes nothing, and the running service answers /healthz and /readyz; then the backup unit, the
 * admin CLI wrapper and a restore of that backup run through the container's systemd. Needs root and the host's
 * ports 5432, 8443 and 8081 free (the container shares the host's network); about two minutes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapDebianRoot, repoDir, runProgram } from "./helpers.ts";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "avtech-cp-idempotence-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("ansible control_plane role", () => {
  it("installs a working control plane and changes nothing on a second run, in a booted Debian container", async () => {
    const rootfs = join(work, "debian.tar");
    const strap = await bootstrapDebianRoot(rootfs);
    expect(strap.code, strap.stderr).toBe(0);
    const dist = join(work, "dist");
    const pack = await runProgram(join(repoDir, "ansible/package-control-plane.sh"), ["x64", dist]);
    expect(pack.code, pack.stdout + pack.stderr).toBe(0);
    const check = await runProgram(join(repoDir, "ansible/check-control-plane-idempotence.sh"), [rootfs, dist]);
    const out = check.stdout + check.stderr;
    expect(out).toMatch(/first run: \d+ s: .* failed=0 /);
    expect(out).toMatch(/idempotent: .* changed=0 .* failed=0 /);
    expect(out).toMatch(/\/healthz: 200/);
    expect(out).toMatch(/\/readyz: 200/);
    expect(out).toMatch(/backup: \/var\/backups\/avtech\/\d{8}T\d{6}Z/);
    expect(out).toMatch(/avtech-cp-admin tenants: SLUG +NAME +SCREENS +STORAGE/);
    expect(out).toMatch(/restore: restored .*avtech\.dump into avtech/);
    expect(out).toMatch(/\/readyz after the restore: 200/);
    expect(check.code, out).toBe(0);
  }, 1_200_000);
});
