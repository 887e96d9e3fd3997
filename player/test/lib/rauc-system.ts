import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { bytesOf } from "./asset-server.ts";

const exec = promisify(execFile);

/** Programs the real-RAUC tests need (scripts/setup.sh installs their Debian packages). */
export const raucTools = ["rauc", "mksquashfs", "dbus-daemon", "openssl", "mkfs.ext4"] as const;

/** The tools from {@link raucTools} that are not on PATH. */
export async function missingRaucTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of raucTools) {
    await exec("sh", ["-c", `command -v ${tool}`]).catch(() => missing.push(tool));
  }
  return missing;
}

/** A signing identity: a CA (the device's keyring) and a signer certificate it issued. */
export interface SigningKeys {
  caCert: string;
  signerCert: string;
  signerKey: string;
}

const opensslConfig = `[ req ]
distinguished_name = dn
[ dn ]
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_leaf ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** Makes a development CA and a signer with openssl, as RAUC's docs describe for a dev keyring. */
export async function makeSigningKeys(dir: string, name: string): Promise<SigningKeys> {
  await mkdir(dir, { recursive: true });
  const cnf = join(dir, "openssl.cnf");
  await writeFile(cnf, opensslConfig);
  const p = (file: string) => join(dir, `${name}-${file}`);
  const openssl = (...args: string[]) => exec("openssl", args);
  await openssl(
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key.pem"), "-out", p("ca.cert.pem")],
    ...["-days", "3650", "-subj", `/CN=${name} CA`, "-config", cnf, "-extensions", "v3_ca"],
  );
  await openssl(
    ...["req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("signer.key.pem"), "-out", p("signer.csr")],
    ...["-subj", `/CN=${name} signer`, "-config", cnf],
  );
  await openssl(
    ...["x509", "-req", "-in", p("signer.csr"), "-CA", p("ca.cert.pem"), "-CAkey", p("ca.key.pem")],
    ...["-CAcreateserial", "-out", p("signer.cert.pem"), "-days", "3650", "-extfile", cnf, "-extensions", "v3_leaf"],
  );
  return { caCert: p("ca.cert.pem"), signerCert: p("signer.cert.pem"), signerKey: p("signer.key.pem") };
}

/**
 * Builds a signed RAUC bundle (format `plain`) holding a small ext4 root image with random
 * content. `plain`, not `verity`: a verity bundle is mounted through device-mapper, and this
 * machine has no /dev/mapper/control (RAUC says "Failed mounting bundle: Failed to open
 * /dev/mapper/control"); the install path after mounting is the same.
 */
export async function makeBundle(
  dir: string,
  out: string,
  keys: SigningKeys,
  manifest: { compatible: string; version: string },
  seed: number,
  size: { imageMiB: number; noiseBytes: number } = { imageMiB: 4, noiseBytes: 96 * 1024 },
): Promise<string> {
  const content = join(dir, `content-${seed}`);
  const tree = join(dir, `tree-${seed}`);
  await mkdir(content, { recursive: true });
  await mkdir(tree, { recursive: true });
  await writeFile(join(tree, "avtech-release"), `${manifest.version}\n`);
  // Incompressible bytes: mksquashfs refuses a bundle payload of a single 4 KiB block.
  await writeFile(join(tree, "noise"), bytesOf(size.noiseBytes, seed));
  const image = join(content, "rootfs.ext4");
  await exec("truncate", ["-s", `${size.imageMiB}M`, image]);
  await exec("mkfs.ext4", ["-q", "-d", tree, image]);
  await writeFile(
    join(content, "manifest.raucm"),
    `[update]\ncompatible=${manifest.compatible}\nversion=${manifest.version}\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.ext4\n`,
  );
  await exec("rauc", ["bundle", `--cert=${keys.signerCert}`, `--key=${keys.signerKey}`, content, out]);
  return out;
}

/**
 * A RAUC service on a private D-Bus session bus, with two root slots that are plain files and
 * a custom bootloader backend (a shell script keeping primary and per-slot state in files), so
 * `rauc install`, `rauc status` and `mark-good` run for real without block devices. A "reboot"
 * restarts the service with another booted slot (`--override-boot-slot`).
 */
export class RaucSystem {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  #bus: ChildProcess | undefined;
  #service: ChildProcess | undefined;
  serviceLog = "";

  private constructor(dir: string, env: NodeJS.ProcessEnv, bus: ChildProcess) {
    this.dir = dir;
    this.env = env;
    this.#bus = bus;
  }

  /** Writes system.conf, the slot files and the backend, and starts the bus. */
  static async create(dir: string, keyring: string, compatible: string): Promise<RaucSystem> {
    await mkdir(join(dir, "slots"), { recursive: true });
    await mkdir(join(dir, "mnt"), { recursive: true });
    await mkdir(join(dir, "boot"), { recursive: true });
    for (const slot of ["a", "b"]) await exec("truncate", ["-s", "16M", join(dir, "slots", `rootfs-${slot}.img`)]);
    const backend = join(dir, "bootloader.sh");
    await writeFile(
      backend,
      `#!/bin/sh
# RAUC custom bootloader backend for tests: primary and slot states in files.
dir=${join(dir, "boot")}
echo "$*" >> "$dir/calls.log"
case "$1" in
  get-primary) cat "$dir/primary" 2>/dev/null || echo A ;;
  set-primary) echo "$2" > "$dir/primary" ;;
  get-state) cat "$dir/state-$2" 2>/dev/null || echo good ;;
  set-state) echo "$3" > "$dir/state-$2" ;;
  *) echo "unknown command $1" >&2; exit 1 ;;
esac
`,
    );
    await chmod(backend, 0o755);
    await writeFile(
      join(dir, "system.conf"),
      `[system]
compatible=${compatible}
bootloader=custom
mountprefix=${join(dir, "mnt")}
statusfile=${join(dir, "rauc.status")}

[handlers]
bootloader-custom-backend=${backend}

[keyring]
path=${keyring}

[slot.rootfs.0]
device=${join(dir, "slots", "rootfs-a.img")}
type=raw
bootname=A

[slot.rootfs.1]
device=${join(dir, "slots", "rootfs-b.img")}
type=raw
bootname=B
`,
    );
    // Its stderr (here only a harmless "Failed to set fd limit") is kept for the error message
    // when it does not start.
    const bus = spawn("dbus-daemon", ["--session", "--nofork", "--print-address=1"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let busErrors = "";
    bus.stderr?.on("data", (chunk: Buffer) => {
      busErrors += chunk.toString();
    });
    const address = await new Promise<string>((resolve, reject) => {
      let out = "";
      bus.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split("\n")[0];
        if (out.includes("\n") && line) resolve(line.trim());
      });
      bus.on("exit", (code) => reject(new Error(`dbus-daemon exited with ${code}: ${busErrors}`)));
    });
    const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: address, DBUS_STARTER_BUS_TYPE: "session" };
    return new RaucSystem(dir, env, bus);
  }

  /** (Re)starts the RAUC service as if the machine had booted `slot`. */
  async boot(slot: "A" | "B"): Promise<void> {
    await this.stopService();
    const service = spawn(
      "rauc",
      ["service", `--conf=${join(this.dir, "system.conf")}`, `--override-boot-slot=${slot}`],
      { env: this.env, stdio: ["ignore", "pipe", "pipe"] },
    );
    service.stdout?.on("data", (chunk: Buffer) => {
      this.serviceLog += chunk.toString();
    });
    service.stderr?.on("data", (chunk: Buffer) => {
      this.serviceLog += chunk.toString();
    });
    this.#service = service;
    const end = Date.now() + 10_000;
    for (;;) {
      const ok = await exec("rauc", ["status", "--output-format=json"], { env: this.env }).then(
        (r) => JSON.parse(r.stdout).booted === slot,
        () => false,
      );
      if (ok) return;
      if (Date.now() > end) throw new Error(`the RAUC service did not come up:\n${this.serviceLog}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** What the fake bootloader will boot next, as if it had given up on a slot. */
  async bootloaderGoesBackTo(slot: "A" | "B", bad: "A" | "B"): Promise<void> {
    await writeFile(join(this.dir, "boot", "primary"), `${slot}\n`);
    await writeFile(join(this.dir, "boot", `state-${bad}`), "bad\n");
  }

  async stopService(): Promise<void> {
    const service = this.#service;
    this.#service = undefined;
    if (!service || service.exitCode !== null) return;
    const exited = new Promise((resolve) => service.once("exit", resolve));
    service.kill("SIGTERM");
    await exited;
  }

  async close(): Promise<void> {
    await this.stopService();
    const bus = this.#bus;
    this.#bus = undefined;
    if (bus && bus.exitCode === null) {
      const exited = new Promise((resolve) => bus.once("exit", resolve));
      bus.kill("SIGTERM");
      await exited;
    }
  }
}
