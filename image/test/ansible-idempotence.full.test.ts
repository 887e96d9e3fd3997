/**
 * The ansible `player` role is idempotent: applied twice to a freshly bootstrapped Debian root file system
 * (mmdebstrap, amd64 so it runs at native speed) through the chroot connection, the second run changes nothing.
 * Installs mpv and ffmpeg from Debian's mirror into the root file system: a few minutes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapDebianRoot, imageDir, repoDir, runProgram } from "./helpers.ts";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "avtech-idempotence-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("ansible player role", () => {
  it("changes nothing on a second run against a debootstrapped Debian root", async () => {
    const rootfs = join(work, "debian.tar");
    const strap = await bootstrapDebianRoot(rootfs);
    expect(strap.code, strap.stderr).toBe(0);
    const app = await runProgram(join(imageDir, "build.sh"), ["app"], {
      AVTECH_ARCH: "amd64",
      AVTECH_WORK: work,
      AVTECH_OUT: work,
    });
    expect(app.code, app.stdout + app.stderr).toBe(0);
    const check = await runProgram(join(repoDir, "ansible/check-idempotence.sh"), [rootfs, join(work, "app"), "amd64"]);
    expect(check.stdout + check.stderr).toMatch(/idempotent: .* changed=0 /);
    expect(check.code).toBe(0);
  });
});
