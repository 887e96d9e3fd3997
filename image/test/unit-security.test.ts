/**
 * `systemd-analyze security` exposure of every systemd service we ship (issue 17): each unit under
 * ansible/ and image/ has a ceiling here, and the test fails for a unit without one, so a new unit
 * comes with its number. systemd rates 0..10: ≤ 3.9 "OK", up to 6.9 "MEDIUM", up to 8.9 "EXPOSED",
 * above "UNSAFE". A ceiling is the unit's exposure when it was set: hardening may lower it (then
 * lower the ceiling), nothing may raise it.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderRoleTemplate, repoDir, runProgram } from "./helpers.ts";

const run = promisify(execFile);

/** Ceiling of each unit's overall exposure, and why it is where it is. */
const ceilings: Record<string, { max: number; why: string }> = {
  "avtech-player.service": {
    max: 3.0,
    why: "the player: sandboxed (2.3 when set); keeps V8's JIT (no MemoryDenyWriteExecute) and network access",
  },
  "avtech-control-plane.service": {
    max: 3.8,
    why: "the server: sandboxed; binds low ports (CAP_NET_BIND_SERVICE) and needs the network",
  },
  "avtech-boot-config.service": {
    max: 9.5,
    why: "root oneshot at boot writing hostname, Wi-Fi and SSH settings into system config; not sandboxed yet",
  },
  "avtech-grow-data.service": {
    max: 9.5,
    why: "root oneshot growing the data partition (raw block devices, partition table); not sandboxed yet",
  },
  "avtech-reboot.service": {
    max: 9.6,
    why: "root oneshot that removes the player's reboot request and asks systemd to reboot (the player itself may not); not sandboxed yet",
  },
  "avtech-update-deadline.service": {
    max: 9.6,
    why: "root oneshot a while after boot that reads the player's update state and may ask systemd to reboot (the player itself may not); not sandboxed yet",
  },
  "avtech-control-plane@.service": {
    max: 3.2,
    why: "a replica behind HAProxy (instance = replica number): as the server, but no capabilities (unprivileged ports) and no kernel logs, clock or hostname",
  },
  "avtech-cp-backup.service": {
    max: 2.2,
    why: "root (copies the blob store with its owners, runuser to postgres for pg_dump), otherwise sandboxed: no network but the Unix socket, read-only system but the backup folder and its log",
  },
};

/** Every service unit file we ship, by unit name, with its path in the repository. */
async function shippedUnits(): Promise<Map<string, string>> {
  const { stdout } = await run("git", ["ls-files", "--cached", "--others", "--exclude-standard", "ansible", "image"], {
    cwd: repoDir,
  });
  const units = new Map<string, string>();
  for (const path of stdout.split("\n")) {
    if (/\.service(\.j2)?$/.test(path)) units.set(basename(path).replace(/\.j2$/, ""), path);
  }
  return units;
}

let root: string;
let units: Map<string, string>;

beforeAll(async () => {
  units = await shippedUnits();
  root = await mkdtemp(join(tmpdir(), "avtech-unit-security-"));
  await mkdir(join(root, "etc/systemd/system"), { recursive: true });
  await mkdir(join(root, "usr/lib/systemd"), { recursive: true });
  await cp("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), {
    recursive: true,
    verbatimSymlinks: true,
  });
  for (const [unit, path] of units) {
    const text = path.endsWith(".j2")
      ? await renderRoleTemplate(basename(path), {}, join(repoDir, path.replace(/\/templates\/.*$/, "")))
      : await readFile(join(repoDir, path), "utf8");
    await writeFile(join(root, "etc/systemd/system", unit), text);
  }
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe("systemd-analyze security of every unit we ship", () => {
  it("finds the units in ansible/ and image/, and each has a ceiling here (no ceiling for a unit we do not ship)", () => {
    expect([...units.keys()].sort()).toEqual(Object.keys(ceilings).sort());
  });

  it("finds no unit written from a script instead of a .service file", async () => {
    // A unit body in a shell script or a task would escape the list above; tests may write their own.
    const { stdout } = await run("git", ["grep", "-l", "^\\[Service\\]", "--", "ansible", "image"], { cwd: repoDir });
    const elsewhere = stdout
      .split("\n")
      .filter((path) => path !== "" && !/\.service(\.j2)?$/.test(path) && !/\.test\.ts$/.test(path));
    expect(elsewhere).toEqual([]);
  });

  it.each(Object.entries(ceilings))("%s stays at or under its ceiling", async (unit, { max }) => {
    expect(units.has(unit), `${unit} is not shipped any more: remove its ceiling`).toBe(true);
    // A template unit (name@.service) is analysed as one of its instances.
    const analysed = unit.replace(/@\.service$/, "@1.service");
    const security = await runProgram("systemd-analyze", ["security", "--offline=true", `--root=${root}`, analysed]);
    const exposure = new RegExp(`Overall exposure level for ${analysed.replace(".", "\\.")}: ([\\d.]+)`).exec(
      security.stdout,
    );
    expect(exposure, security.stdout + security.stderr).not.toBeNull();
    expect(Number(exposure?.[1])).toBeLessThanOrEqual(max);
  });
});
