import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanFiles, treeFiles } from "../secret-scan.ts";

// Secrets are made here when the test runs, and their markers are split, so the scan of the tree
// never meets one in this file.
const begin = (type: string) => `-----BEGIN ${type}PRIVATE KEY-----`;
const random62 = (n: number) => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(randomBytes(n), (byte) => alphabet[byte % 62]).join("");
};

/** Planted files, each with the secret it holds; `clean` files hold look-alikes that are not secrets. */
function planted(): Record<string, string> {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" });
  const ed25519 = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" });
  return {
    "deploy-key.pem": String(rsa),
    // 64 base64 characters: shorter than the preset's minimum, found by our own pattern.
    "signing.pem": String(ed25519),
    "github.env": `GITHUB_TOKEN=gh${"p_"}${random62(36)}\n`,
    "aws.ini": `[default]\naws_access_key_id = AK${"IA"}${random62(16).toUpperCase()}\naws_secret_access_key = ${randomBytes(30).toString("base64").slice(0, 40)}\n`,
    // The preset's AWS pattern ends in \b, so it misses a key ending in / or + (1 in 32): our own pattern catches it.
    "aws-slash.ini": `aws_secret_access_key = ${randomBytes(30).toString("base64").slice(0, 39)}/\n`,
    "player.toml": `[control_plane]\nurl = "https://cp.example"\nenrollment_key = "av${"e"}_${randomBytes(32).toString("base64url")}"\n`,
    "console.json": `{ "apiToken": "av${"t"}_${randomBytes(32).toString("base64url")}" }\n`,
    "service.yaml": `oauth:\n  client_secret: ${randomBytes(24).toString("base64url")}9aZ\n`,
    "database.yml": `url: postgres://app:${random62(20)}@db.internal:5432/avtech\n`,
  };
}
const clean: Record<string, string> = {
  "clean-config.yaml": `password: changeme\ntoken: \${AVTECH_TOKEN}\napi_key: <your key here>\nsha256: ${"ab".repeat(32)}\n`,
  "clean-doc.md": `Keys start with ${begin("")} in PEM files; tokens look like avt_<43 characters>.\n`,
};

describe("the secret scan (scripts/secret-scan.ts, secretlint with .secretlintrc.json)", () => {
  let dir: string;
  let secrets: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "avtech-secrets-"));
    secrets = planted();
    for (const [name, text] of Object.entries({ ...secrets, ...clean })) await writeFile(join(dir, name), text);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("finds nothing in the tree, having read every file of it", async () => {
    const files = await treeFiles();
    expect(files.length).toBeGreaterThan(400);
    const { scanned, findings } = await scanFiles(files);
    expect(findings).toEqual([]);
    // secretlint reads every file but its own two config files.
    expect(scanned).toBe(files.filter((f) => f !== ".secretlintrc.json" && f !== ".secretlintignore").length);
  }, 60_000);

  it("finds every planted secret, and nothing in the look-alikes", async () => {
    const names = Object.keys({ ...secrets, ...clean });
    const { scanned, findings } = await scanFiles(names.map((name) => join(dir, name)));
    expect(scanned).toBe(names.length);
    const flagged = new Set(findings.map((f) => basename(f.file)));
    expect([...flagged].sort()).toEqual(Object.keys(secrets).sort());
    // Findings are masked: no secret value appears in what the scan prints.
    for (const finding of findings) {
      for (const text of Object.values(secrets)) {
        const value = text.match(/[A-Za-z0-9_+/=-]{30,}/)?.[0];
        if (value) expect(finding.message).not.toContain(value);
      }
    }
  }, 60_000);

  it("skips what the allowlist (.secretlintignore) lists, and only that", async () => {
    const site = join(dir, "site");
    await mkdir(join(site, "fixtures"), { recursive: true });
    const token = `av${"d"}_${randomBytes(32).toString("base64url")}`;
    await writeFile(join(site, "fixtures", "recorded.json"), `{ "token": "${token}" }\n`);
    await writeFile(join(site, "live.json"), `{ "token": "${token}" }\n`);
    await writeFile(join(site, ".secretlintignore"), "# recorded test traffic\nfixtures/\n");
    const { findings } = await scanFiles(["fixtures/recorded.json", "live.json"], site);
    expect([...new Set(findings.map((f) => basename(f.file)))]).toEqual(["live.json"]);
  });
});
