/**
 * The `control_plane` role's cluster settings (issue 14: replicas behind HAProxy, S3), without a host to deploy to:
 * its checks (`--tags settings`) against made-up inventories; the HAProxy configuration rendered through Ansible for
 * 2 hosts × 3 replicas from control-plane/src/cluster/haproxy.cfg.template (every server line, accepted by
 * `haproxy -c`, cleartext and with TLS); and the replicas' environment read by the control plane's own config loader.
 * Needs ansible, haproxy and openssl (scripts/setup.sh installs them). The deployment itself (units, HAProxy running,
 * going back to one process) is checked in a booted container by control-plane-idempotence.full.test.ts.
 */
import { lstat, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "@avtech/control-plane";
import { readHaproxyTemplate, renderHaproxyConfig } from "@avtech/control-plane/cluster";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderRoleTemplate, repoDir, runProgram } from "./helpers.ts";

const ansibleDir = join(repoDir, "ansible");
const cpRole = join(ansibleDir, "roles/control_plane");
const required = {
  avtech_cp_app_archive: "app.tgz",
  avtech_cp_node_archive: "node.tgz",
  avtech_cp_db_password: "0123456789abcdefgh",
  avtech_cp_tls_terminated_upstream: true,
};
/** Two hosts that may run a cluster: S3, a shared database, private addresses, HAProxy on cp1. */
const twoHosts = `[control_plane]
cp1 ansible_connection=local avtech_cp_replica_address=10.0.0.1 avtech_cp_balancer=true
cp2 ansible_connection=local avtech_cp_replica_address=10.0.0.2
[control_plane:vars]
avtech_cp_replicas=3
avtech_cp_db_host=10.0.0.9
avtech_cp_blob_store=s3
avtech_cp_s3_bucket=media
avtech_cp_s3_access_key_id=AKIAEXAMPLE
avtech_cp_s3_secret_access_key=abc/def+ghi=
`;
const oneHost = "[control_plane]\nlocalhost ansible_connection=local\n";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "avtech-cp-cluster-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a playbook against an inventory (both written to the temp folder) with extra variables as JSON. */
async function play(
  inventory: string,
  playbook: string,
  vars: Record<string, unknown>,
  ...args: string[]
): Promise<{ code: number; output: string }> {
  const hosts = join(dir, `hosts-${Math.random().toString(36).slice(2)}.ini`);
  await writeFile(hosts, inventory);
  const result = await runProgram(
    "ansible-playbook",
    ["-i", hosts, "-e", JSON.stringify({ ...required, ...vars }), ...args, playbook],
    { ANSIBLE_CONFIG: join(ansibleDir, "ansible.cfg"), ANSIBLE_ROLES_PATH: join(ansibleDir, "roles") },
    ansibleDir,
  );
  return { code: result.code, output: result.stdout + result.stderr };
}

/** Runs only the role's settings checks (tag `settings`), which change nothing on the machine. */
function checkSettings(inventory: string, vars: Record<string, unknown>, ...args: string[]) {
  return play(inventory, join(ansibleDir, "playbooks/control_plane.yml"), vars, "--tags", "settings", ...args);
}

describe("the control_plane role's cluster settings", () => {
  it("keeps one process by default and accepts replicas behind a balancer", async () => {
    const [single, cluster] = await Promise.all([
      checkSettings(oneHost, {}),
      checkSettings(oneHost, { avtech_cp_replicas: 3, avtech_cp_balancer: true }),
    ]);
    expect(single.code, single.output).toBe(0);
    expect(cluster.code, cluster.output).toBe(0);
  });

  it("refuses replicas without a balancer, fewer than one replica, and replica ports over the front port", async () => {
    const [noBalancer, zero, two, overlap] = await Promise.all([
      checkSettings(oneHost, { avtech_cp_replicas: 3 }),
      checkSettings(oneHost, { avtech_cp_replicas: 0, avtech_cp_balancer: true }),
      checkSettings(oneHost, { avtech_cp_replicas: "two", avtech_cp_balancer: true }),
      checkSettings(oneHost, { avtech_cp_replicas: 3, avtech_cp_balancer: true, avtech_cp_port: 8102 }),
    ]);
    expect(noBalancer.code).not.toBe(0);
    expect(noBalancer.output).toContain("More than one replica or host needs HAProxy in front");
    for (const [bad, replicas] of [
      [zero, 0],
      [two, "two"],
    ] as const) {
      expect(bad.code).not.toBe(0);
      expect(bad.output).toContain(`avtech_cp_replicas must be a whole number of at least 1 (it is ${replicas})`);
    }
    expect(overlap.code).not.toBe(0);
    expect(overlap.output).toContain("leave out avtech_cp_port (8102)");
  });

  it("needs a bucket and an access key pair for S3, with no character the env file cannot hold", async () => {
    const s3 = { avtech_cp_blob_store: "s3", avtech_cp_s3_bucket: "media" };
    const keys = { avtech_cp_s3_access_key_id: "AKIAEXAMPLE", avtech_cp_s3_secret_access_key: "abc/def+ghi=" };
    const [noKeys, noBucket, quote, ok, unknown] = await Promise.all([
      checkSettings(oneHost, s3),
      checkSettings(oneHost, { ...keys, avtech_cp_blob_store: "s3" }),
      checkSettings(oneHost, { ...s3, ...keys, avtech_cp_s3_secret_access_key: "it's" }),
      checkSettings(oneHost, { ...s3, ...keys }),
      checkSettings(oneHost, { avtech_cp_blob_store: "nfs" }),
    ]);
    expect(noKeys.code).not.toBe(0);
    expect(noKeys.output).toContain("s3 needs avtech_cp_s3_bucket and an access key pair");
    expect(noBucket.code).not.toBe(0);
    expect(noBucket.output).toContain("s3 needs avtech_cp_s3_bucket and an access key pair");
    expect(quote.code).not.toBe(0);
    expect(quote.output).toContain("letters, digits and / + = . _ -");
    expect(ok.code, ok.output).toBe(0);
    expect(unknown.code).not.toBe(0);
    expect(unknown.output).toContain("avtech_cp_blob_store is file or s3");
  });

  it("needs S3, one database and private addresses across hosts, and every host of the group in the run", async () => {
    const [ok, file, localDb, loopback, limited] = await Promise.all([
      checkSettings(twoHosts, {}),
      checkSettings(twoHosts.replace("avtech_cp_blob_store=s3", "avtech_cp_blob_store=file"), {}),
      checkSettings(twoHosts.replace("avtech_cp_db_host=10.0.0.9", ""), {}),
      checkSettings(twoHosts.replace("avtech_cp_replica_address=10.0.0.2", ""), {}),
      checkSettings(twoHosts, {}, "--limit", "cp2"),
    ]);
    expect(ok.code, ok.output).toBe(0);
    // One check refuses each bad inventory (its message names all three needs); Ansible names the condition that
    // failed.
    for (const [bad, condition] of [
      [file, "reject('equalto', 's3')"],
      [localDb, "not avtech_cp_db_local | bool"],
      [loopback, "select('match', '^(127"],
    ] as const) {
      expect(bad.code).not.toBe(0);
      expect(bad.output).toContain("2 hosts in the control_plane group need avtech_cp_blob_store: s3 on every one");
      expect(bad.output).toContain(condition);
    }
    expect(limited.code).not.toBe(0);
    expect(limited.output).toContain("run the play on all of them (no --limit to a part of the group)");
  });
});

describe("the HAProxy configuration the role renders", () => {
  /**
   * Renders HAProxy's configuration through the role's own tasks (cluster_settings.yml, then haproxy_config.yml, whose
   * template task validates with `haproxy -c`) into the temp folder, for the two-host inventory.
   */
  async function renderFor(vars: Record<string, unknown>): Promise<{ code: number; output: string }> {
    const playbook = join(dir, "render.yml");
    await writeFile(
      playbook,
      `- name: Render HAProxy's configuration as the control_plane role does
  hosts: control_plane
  gather_facts: false
  tasks:
    - name: The cluster's facts and checks
      ansible.builtin.import_role:
        name: control_plane
        tasks_from: cluster_settings.yml
    - name: HAProxy's configuration, into the temp folder
      ansible.builtin.include_role:
        name: control_plane
        tasks_from: haproxy_config.yml
      vars:
        avtech_cp_haproxy_config: "${dir}/{{ inventory_hostname }}.cfg"
        avtech_cp_haproxy_tls_pem: "${dir}/{{ inventory_hostname }}.pem"
      when: avtech_cp_balancer | bool
    # The role's handler would reload this machine's HAProxy; this play only renders.
    - name: Stop before the handlers
      ansible.builtin.meta: end_play
`,
    );
    return play(twoHosts, playbook, vars);
  }

  it("lists every replica of every host, and haproxy -c accepts the file", async () => {
    const rendered = await renderFor({});
    expect(rendered.code, rendered.output).toBe(0);
    const config = await readFile(join(dir, "cp1.cfg"), "utf8");
    const servers = config.split("\n").filter((line) => /^\s+server /.test(line));
    // The same server lines control-plane/src/cluster/haproxy.ts writes for make cluster.
    const expected = renderHaproxyConfig(await readHaproxyTemplate(), {
      frontHost: "0.0.0.0",
      frontPort: 8443,
      servers: [1, 2].flatMap((host) =>
        [0, 1, 2].map((i) => ({
          name: `cp${host}-${i + 1}`,
          host: `10.0.0.${host}`,
          port: 8100 + 2 * i,
          checkPort: 8101 + 2 * i,
        })),
      ),
    })
      .split("\n")
      .filter((line) => /^\s+server /.test(line));
    expect(servers).toEqual([
      "  server cp1-1 10.0.0.1:8100 proto h2 check port 8101 check-proto h1",
      "  server cp1-2 10.0.0.1:8102 proto h2 check port 8103 check-proto h1",
      "  server cp1-3 10.0.0.1:8104 proto h2 check port 8105 check-proto h1",
      "  server cp2-1 10.0.0.2:8100 proto h2 check port 8101 check-proto h1",
      "  server cp2-2 10.0.0.2:8102 proto h2 check port 8103 check-proto h1",
      "  server cp2-3 10.0.0.2:8104 proto h2 check port 8105 check-proto h1",
    ]);
    expect(servers).toEqual(expected);
    expect(config).toMatch(/^ {2}bind 0\.0\.0\.0:8443$/m);
    expect(config).toMatch(/^ {2}maxconn 9000$/m);
    expect(config).toMatch(/^ {2}user haproxy\n {2}group haproxy\n {2}chroot \/var\/lib\/haproxy$/m);
    expect(config).not.toContain("{{");
    // cp2 runs replicas only.
    await expect(lstat(join(dir, "cp2.cfg"))).rejects.toThrow(/ENOENT/);
    const check = await runProgram("haproxy", ["-c", "-f", join(dir, "cp1.cfg")]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain("Configuration file is valid");
  });

  it("terminates TLS on the front with the role's certificate and key (linked, so renewals need only a reload)", async () => {
    const cert = join(dir, "fullchain.pem");
    const key = join(dir, "privkey.pem");
    const made = await runProgram("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=signage.example.internal",
    ]);
    expect(made.code, made.stderr).toBe(0);
    const rendered = await renderFor({
      avtech_cp_tls_terminated_upstream: false,
      avtech_cp_tls_cert_path: cert,
      avtech_cp_tls_key_path: key,
    });
    expect(rendered.code, rendered.output).toBe(0);
    const config = await readFile(join(dir, "cp1.cfg"), "utf8");
    expect(config).toMatch(
      new RegExp(`^ {2}bind 0\\.0\\.0\\.0:8443 ssl crt ${dir}/cp1\\.pem alpn h2,http/1\\.1$`, "m"),
    );
    expect(await readlink(join(dir, "cp1.pem"))).toBe(cert);
    expect(await readlink(join(dir, "cp1.pem.key"))).toBe(key);
    const check = await runProgram("haproxy", ["-c", "-f", join(dir, "cp1.cfg")]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });
});

describe("the replicas' environment", () => {
  it("reads as h2c on the replica's address and ports, trusting the balancers, with the S3 store", async () => {
    const vars = {
      avtech_cp_clustered: true,
      avtech_cp_trusted_proxies: ["10.0.0.1", "10.0.0.3"],
      avtech_cp_replica_address: "10.0.0.2",
      avtech_cp_blob_store: "s3",
      avtech_cp_s3_endpoint: "http://minio.internal:9000",
      avtech_cp_s3_bucket: "media",
      avtech_cp_s3_access_key_id: "AKIAEXAMPLE",
      avtech_cp_s3_secret_access_key: "abc/def+ghi=",
      // A certificate on the host is HAProxy's: the replicas behind it serve h2c.
      avtech_cp_tls_cert_path: "/etc/avtech/tls/fullchain.pem",
      avtech_cp_tls_key_path: "/etc/avtech/tls/privkey.pem",
      item: 2,
    };
    // What systemd reads, in the unit's order: the shared file, the key pair (quoted), then replica 2's ports.
    const files = await Promise.all(
      ["control-plane.env.j2", "control-plane-s3.env.j2", "control-plane-replica.env.j2"].map((name) =>
        renderRoleTemplate(name, vars, cpRole),
      ),
    );
    const env: Record<string, string> = {};
    for (const line of files.join("\n").split("\n")) {
      const match = /^([A-Z_0-9]+)=(.*)$/.exec(line);
      if (match) env[match[1] as string] = (match[2] as string).replace(/^'(.*)'$/, "$1");
    }
    const config = loadConfig({ env });
    expect(config.listen).toEqual({
      host: "10.0.0.2",
      port: 8102,
      http1Port: 8103,
      trustedProxies: ["10.0.0.1", "10.0.0.3"],
    });
    expect(config.tls.certFile).toBeUndefined();
    expect(config.blobStore).toEqual({
      kind: "s3",
      endpoint: "http://minio.internal:9000",
      region: "us-east-1",
      bucket: "media",
      accessKeyId: "AKIAEXAMPLE",
      secretAccessKey: "abc/def+ghi=",
      forcePathStyle: true,
    });
    // The key pair is only in the root-only file, never in the shared one or the unit.
    expect(files[0]).not.toContain("abc/def+ghi=");
    const unit = await renderRoleTemplate("avtech-control-plane@.service.j2", vars, cpRole);
    expect(unit).not.toContain("abc/def+ghi=");
    expect(unit).toContain("EnvironmentFile=-/etc/avtech/control-plane-s3.env");
    expect(unit).toContain("EnvironmentFile=/etc/avtech/control-plane-replica-%i.env");
  });

  it("keeps one process's environment as before with the defaults (its ports, TLS, the file store)", async () => {
    const text = await renderRoleTemplate(
      "control-plane.env.j2",
      { avtech_cp_tls_cert_path: "/etc/c.pem", avtech_cp_tls_key_path: "/etc/k.pem" },
      cpRole,
    );
    expect(text).toContain("AVTECH_PORT=8443\n");
    expect(text).toContain("AVTECH_TLS_CERT=/etc/c.pem\n");
    expect(text).not.toMatch(/AVTECH_(HOST|TRUSTED_PROXIES|BLOB_STORE|S3_[A-Z_]+)=/);
  });
});

describe("backups with the S3 blob store", () => {
  it("dump the database only and say the bucket is not backed up; the restore leaves the bucket alone", async () => {
    const s3 = { avtech_cp_blob_store: "s3", avtech_cp_s3_bucket: "media" };
    const backup = await renderRoleTemplate("avtech-cp-backup.j2", s3, cpRole);
    const restore = await renderRoleTemplate("avtech-cp-restore.j2", s3, cpRole);
    for (const script of [backup, restore]) {
      const path = join(dir, "script.sh");
      await writeFile(path, script);
      const syntax = await runProgram("sh", ["-n", path]);
      expect(syntax.code, syntax.stderr).toBe(0);
    }
    expect(backup).toContain("blobs NOT backed up: they are in the S3 bucket media");
    // copy_blobs returns before rsync; the file store's backup has no such early return.
    expect(backup).toMatch(/copy_blobs\(\) \{\n(\s*#.*\n)*\s*return 0\n/);
    expect(await renderRoleTemplate("avtech-cp-backup.j2", {}, cpRole)).not.toMatch(/NOT backed up|return 0\n\s*\[/);
    expect(restore).toContain("the blobs are in the bucket media, not in backup sets; restoring the database only");
    expect(restore).not.toContain("rsync");
    // A cluster's restore stops and starts every replica of the host.
    const cluster = await renderRoleTemplate(
      "avtech-cp-restore.j2",
      { avtech_cp_units: ["avtech-control-plane@1.service", "avtech-control-plane@2.service"] },
      cpRole,
    );
    expect(cluster).toContain('units="avtech-control-plane@1.service avtech-control-plane@2.service"');
  });
});
