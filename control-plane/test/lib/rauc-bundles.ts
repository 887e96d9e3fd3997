import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Makes small real RAUC bundles for tests, with a dev CA made by openssl. Nothing is committed. */
export interface BundleFactory {
  /** The fleet CA's certificate: the keyring `rauc info --keyring` checks signatures against. */
  keyringPath: string;
  /** The compatible the fleet's bundles are built for. */
  compatible: string;
  /**
   * A signed verity bundle of a tiny ext4 root file system. `signer` "fleet" (default) has a
   * certificate of the fleet CA; "self-signed" and "other-ca" do not chain to the keyring.
   * `format` "plain" makes RAUC's older plain format.
   */
  bundle(options: {
    version: string;
    compatible?: string;
    signer?: "fleet" | "self-signed" | "other-ca";
    format?: "verity" | "plain";
  }): Promise<string>;
  /** A file of random bytes (not a bundle). */
  garbage(bytes: number): Promise<string>;
  remove(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run("openssl", args, { cwd });
}

/** A CA (self-signed, CA:true) with its key, as `<name>.cert.pem` / `<name>.key.pem`. */
async function makeCa(dir: string, name: string, subject: string): Promise<void> {
  await openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key.pem`,
      "-out",
      `${name}.cert.pem`,
      "-subj",
      subject,
      "-days",
      "30",
      "-addext",
      "basicConstraints=critical,CA:true",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
}

/** A signing certificate issued by CA `ca`, as `<name>.cert.pem` / `<name>.key.pem`. */
async function makeSigner(dir: string, name: string, subject: string, ca: string): Promise<void> {
  await openssl(
    ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key.pem`, "-out", `${name}.csr`, "-subj", subject],
    dir,
  );
  // RAUC checks the signer for S/MIME signing purpose: no extendedKeyUsage (codeSigning is refused).
  await writeFile(
    join(dir, `${name}.ext`),
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.cert.pem`,
      "-CAkey",
      `${ca}.key.pem`,
      "-CAcreateserial",
      "-out",
      `${name}.cert.pem`,
      "-days",
      "30",
      "-extfile",
      `${name}.ext`,
    ],
    dir,
  );
}

/** Creates the dev CA, the signers and a tiny root file system image in a temp folder. */
export async function createBundleFactory(compatible = "avtech-test-rpi4"): Promise<BundleFactory> {
  const dir = await mkdtemp(join(tmpdir(), "avtech-rauc-"));
  await Promise.all([
    makeCa(dir, "fleet-ca", "/O=AVTech Test/CN=AVTech Test Fleet CA"),
    makeCa(dir, "other-ca", "/O=Elsewhere/CN=Other CA"),
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "self-signed.key.pem",
        "-out",
        "self-signed.cert.pem",
        "-subj",
        "/CN=Self Signed",
        "-days",
        "30",
      ],
      dir,
    ),
  ]);
  await Promise.all([
    makeSigner(dir, "fleet", "/O=AVTech Test/CN=AVTech Test Release Signer", "fleet-ca"),
    makeSigner(dir, "other-ca-signer", "/O=Elsewhere/CN=Other Signer", "other-ca"),
  ]);
  // A tiny ext4 root file system, filled from a folder (mkfs.ext4 -d: no mount needed).
  const rootDir = join(dir, "root");
  await mkdir(join(rootDir, "etc"), { recursive: true });
  await writeFile(join(rootDir, "etc", "noise"), randomBytes(48 * 1024));
  const image = join(dir, "rootfs.ext4");
  await run("truncate", ["-s", "2M", image]);
  await run("mkfs.ext4", ["-q", "-F", "-d", rootDir, image]);

  let serial = 0;
  const signers = { fleet: "fleet", "self-signed": "self-signed", "other-ca": "other-ca-signer" } as const;
  return {
    keyringPath: join(dir, "fleet-ca.cert.pem"),
    compatible,
    async bundle(options) {
      const n = ++serial;
      const content = join(dir, `content-${n}`);
      await mkdir(content);
      await run("cp", [image, join(content, "rootfs.ext4")]);
      const format = options.format ?? "verity";
      await writeFile(
        join(content, "manifest.raucm"),
        [
          "[update]",
          `compatible=${options.compatible ?? compatible}`,
          `version=${options.version}`,
          "",
          ...(format === "verity" ? ["[bundle]", "format=verity", ""] : []),
          "[image.rootfs]",
          "filename=rootfs.ext4",
          "",
        ].join("\n"),
      );
      const signer = signers[options.signer ?? "fleet"];
      const output = join(dir, `bundle-${n}.raucb`);
      await run("rauc", [
        "bundle",
        `--cert=${join(dir, `${signer}.cert.pem`)}`,
        `--key=${join(dir, `${signer}.key.pem`)}`,
        content,
        output,
      ]);
      await rm(content, { recursive: true, force: true });
      return output;
    },
    async garbage(bytes) {
      const path = join(dir, `garbage-${++serial}.raucb`);
      await writeFile(path, randomBytes(bytes));
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
