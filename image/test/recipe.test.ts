import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "@avtech/control-plane";
import { deviceNodeFlags } from "@avtech/player/build";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageDir, renderRoleTemplate, repoDir, runProgram } from "./helpers.ts";

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "avtech-recipe-"));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

/** Runs build.sh with its output and work folders in a temp folder. */
function build(env: Record<string, string>, ...stages: string[]) {
  return runProgram(join(imageDir, "build.sh"), stages, { AVTECH_OUT: out, AVTECH_WORK: join(out, "work"), ...env });
}

describe("image/build.sh settings", () => {
  it("names the valid package sources when given an unknown one", async () => {
    const result = await build({ AVTECH_PACKAGE_SOURCE: "ubuntu" }, "base");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("unknown AVTECH_PACKAGE_SOURCE 'ubuntu': use debian or raspios");
  });

  it("says what the raspios source needs when Raspberry Pi's archive key is missing", async () => {
    const result = await build(
      { AVTECH_PACKAGE_SOURCE: "raspios", AVTECH_RASPIOS_KEYRING: join(out, "missing.gpg") },
      "base",
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain("package source raspios needs Raspberry Pi's archive key");
  });

  it("says what to do when the raspios snapshot is not there", async () => {
    const result = await build(
      {
        AVTECH_PACKAGE_SOURCE: "raspios",
        AVTECH_RASPIOS_KEYRING: "/usr/share/keyrings/debian-archive-keyring.gpg",
        AVTECH_RASPIOS_MIRROR: `file://${out}/no-snapshot`,
      },
      "base",
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(`no apt repository at file://${out}/no-snapshot`);
  });

  it("rejects an unknown stage and logs progress with timestamps", async () => {
    const result = await build({}, "frobnicate");
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/\[\d\d:\d\d:\d\d \+\d\d:\d\d\] .*unknown stage 'frobnicate'/);
  });
});

describe("app stage", () => {
  it("bundles the player into one file that runs under the device's Node flags", async () => {
    const dir = join(out, "player");
    const made = await runProgram("bash", [
      "-c",
      `source "${imageDir}/lib/common.sh" && source "${imageDir}/lib/app.sh" && build_player_bundle "${dir}"`,
    ]);
    expect(made.code, made.stdout + made.stderr).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(["avtech-player.licenses.txt", "avtech-player.mjs"]);
    const help = await runProgram(process.execPath, [...deviceNodeFlags, join(dir, "avtech-player.mjs"), "--help"]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: avtech-player <command>/);
  });

  it("packs the site-settings tool readable by the unprivileged avtech user (folders 0755, files world-readable)", async () => {
    const tgz = join(out, "app.tar.gz");
    const made = await runProgram("bash", [
      "-c",
      `source "${imageDir}/lib/common.sh" && source "${imageDir}/lib/app.sh" && build_app_archive "${tgz}" proto provisioning`,
    ]);
    expect(made.code, made.stdout + made.stderr).toBe(0);
    const listing = (await runProgram("tar", ["-tvzf", tgz])).stdout.trim().split("\n");
    expect(listing[0]).toMatch(/^drwxr-xr-x .* \.\/$/);
    expect(listing.some((l) => / \.\/provisioning\/src\/device\/main\.ts$/.test(l))).toBe(true);
    expect(listing.some((l) => / \.\/node_modules\/smol-toml\//.test(l))).toBe(true);
    // The player ships as its bundle only.
    expect(listing.some((l) => / \.\/player\//.test(l))).toBe(false);
    expect(listing.some((l) => / \.\/(proto|provisioning)\/.*\.test\.ts$/.test(l))).toBe(false);
    const unreadable = listing.filter((l) => !/^(l|-r..r..r|dr.xr.xr.x)/.test(l));
    expect(unreadable).toEqual([]);
  });
});

describe("ansible", () => {
  it("is ansible-lint clean (production profile) and the playbooks pass syntax-check", async () => {
    const ansibleDir = join(repoDir, "ansible");
    const lint = await runProgram(
      "ansible-lint",
      ["--nocolor"],
      { ANSIBLE_CONFIG: join(ansibleDir, "ansible.cfg") },
      ansibleDir,
    );
    expect(lint.stdout + lint.stderr).toMatch(/Passed with production profile: 0 failure\(s\), 0 warning\(s\)/);
    expect(lint.code).toBe(0);
    for (const playbook of ["site.yml", "image.yml"]) {
      const check = await runProgram(
        "ansible-playbook",
        ["--syntax-check", join(ansibleDir, "playbooks", playbook)],
        { ANSIBLE_CONFIG: join(ansibleDir, "ansible.cfg") },
        ansibleDir,
      );
      expect(check.code, check.stdout + check.stderr).toBe(0);
    }
  });
});

describe("the control_plane role's settings (TLS, OS updates)", () => {
  /** Runs only the role's settings checks (tag `settings`) on this machine with the given extra variables. */
  async function checkSettings(extra: string): Promise<{ code: number; output: string }> {
    const ansibleDir = join(repoDir, "ansible");
    const dir = await mkdtemp(join(tmpdir(), "avtech-tls-"));
    try {
      const inventory = join(dir, "hosts.ini");
      await writeFile(inventory, "[control_plane]\nlocalhost ansible_connection=local\n");
      const required =
        "avtech_cp_app_archive=app.tgz avtech_cp_node_archive=node.tgz avtech_cp_db_password=0123456789abcdefgh";
      const result = await runProgram(
        "ansible-playbook",
        [
          "-i",
          inventory,
          "--tags",
          "settings",
          "-e",
          `${required} ${extra}`,
          join(ansibleDir, "playbooks", "control_plane.yml"),
        ],
        { ANSIBLE_CONFIG: join(ansibleDir, "ansible.cfg") },
        ansibleDir,
      );
      return { code: result.code, output: result.stdout + result.stderr };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("refuses to deploy plain HTTP unless a certificate is given or a load balancer terminates TLS", async () => {
    const plain = await checkSettings("");
    expect(plain.code).not.toBe(0);
    expect(plain.output).toContain("TLS is on by default: set avtech_cp_tls_cert_path and avtech_cp_tls_key_path");
    const withCertificate = await checkSettings("avtech_cp_tls_cert_path=/etc/c.pem avtech_cp_tls_key_path=/etc/k.pem");
    expect(withCertificate.code, withCertificate.output).toBe(0);
    const upstream = await checkSettings("avtech_cp_tls_terminated_upstream=true");
    expect(upstream.code, upstream.output).toBe(0);
  });

  it("configures OS updates with the screens' compatible and keyring, both or neither", async () => {
    const tls = "avtech_cp_tls_terminated_upstream=true";
    const half = await checkSettings(`${tls} avtech_cp_update_compatible=avtech-rpi-arm64-debian`);
    expect(half.code).not.toBe(0);
    expect(half.output).toContain("Set both avtech_cp_update_compatible");
    const both = await checkSettings(
      `${tls} avtech_cp_update_compatible=avtech-rpi-arm64-debian avtech_cp_update_keyring=${imageDir}/keys/dev/ca.cert.pem`,
    );
    expect(both.code, both.output).toBe(0);

    // The environment file the role writes, read by the control plane's own config loader.
    const config = async (vars: Record<string, string>) => {
      const text = await renderRoleTemplate("control-plane.env.j2", vars, join(repoDir, "ansible/roles/control_plane"));
      const env = Object.fromEntries(
        text
          .split("\n")
          .filter((line) => /^[A-Z_0-9]+=/.test(line))
          .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      );
      return loadConfig({ env }).update;
    };
    expect(
      await config({ avtech_cp_update_compatible: "avtech-rpi-arm64-debian", avtech_cp_update_keyring: "/x/ca.pem" }),
    ).toMatchObject({ compatible: "avtech-rpi-arm64-debian", keyringPath: "/etc/avtech/update-keyring.pem" });
    const none = await config({});
    expect(none.compatible).toBeUndefined();
    expect(none.keyringPath).toBeUndefined();
  });
});
