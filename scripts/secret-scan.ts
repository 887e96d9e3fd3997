/**
 * The secret scan of the tree: secretlint (npm, maintained by the secretlint project) with its
 * recommended preset (private keys, AWS/GCP/Azure/GitHub/GitLab/Slack/npm/OpenAI/… tokens, basic
 * auth and database URLs with passwords, .env files) plus our own patterns in `.secretlintrc.json`:
 * AVTech's own bearer secrets (`avs_`/`avt_`/`avd_`/`avp_`/`ave_` + 43 base64url characters), every
 * `PRIVATE KEY` block with a body however short (the preset skips those under 100 base64 characters,
 * e.g. an Ed25519 PKCS#8 key; a header alone, as in documentation, is not a key), and secret-named settings (`password`, `secret`, `token`, `api_key`,
 * `private_key`) whose value is a 24+ character random-looking string (upper, lower case and a digit).
 *
 * What is scanned: every file git tracks, and new files it does not ignore. The allowlist is
 * `.secretlintignore` (gitignore syntax, one path per line with the reason in a comment above it).
 * Findings are printed masked.
 *
 * `node scripts/secret-scan.ts`: exit 0 when nothing is found, 1 with the findings listed.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "..");

/** One finding, with the secret masked. */
export interface SecretFinding {
  file: string;
  line: number;
  rule: string;
  message: string;
}

/** What {@link scanFiles} looked at and found. */
export interface SecretScan {
  /** Files secretlint read (not counted: its own config files, and those the allowlist skips). */
  scanned: number;
  findings: SecretFinding[];
}

interface LintResult {
  filePath: string;
  messages: Array<{ ruleId: string; message: string; loc: { start: { line: number } } }>;
}

/**
 * Runs secretlint over `files` (literal paths) with the config and allowlist found in `cwd`
 * (`.secretlintrc.json`, `.secretlintignore`); default cwd: the repository root.
 */
export async function scanFiles(files: readonly string[], cwd = root): Promise<SecretScan> {
  if (files.length === 0) return { scanned: 0, findings: [] };
  const args = ["--format", "json", "--no-glob", "--no-color", "--secretlintrc", resolve(root, ".secretlintrc.json")];
  let stdout: string;
  try {
    ({ stdout } = await run(resolve(root, "node_modules", ".bin", "secretlint"), [...args, ...files], {
      cwd,
      maxBuffer: 256 * 2 ** 20,
    }));
  } catch (error) {
    // Exit 1 with a JSON report means findings; anything else is a failure to scan.
    const out = (error as { stdout?: string }).stdout ?? "";
    if (!out.trimStart().startsWith("[")) throw new Error(`secretlint did not run: ${String(error)}`, { cause: error });
    stdout = out;
  }
  const results = JSON.parse(stdout) as LintResult[];
  return {
    scanned: results.length,
    findings: results.flatMap((result) =>
      result.messages.map((m) => ({
        file: result.filePath,
        line: m.loc.start.line,
        rule: m.ruleId,
        message: m.message,
      })),
    ),
  };
}

/** The files of the tree: tracked by git, plus untracked ones it does not ignore. */
export async function treeFiles(): Promise<string[]> {
  const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    maxBuffer: 64 * 2 ** 20,
  });
  // A tracked file deleted in the work tree is not there to scan.
  return stdout.split("\0").filter((path) => path !== "" && existsSync(resolve(root, path)));
}

if (import.meta.main) {
  const started = performance.now();
  const files = await treeFiles();
  const { scanned, findings } = await scanFiles(files);
  for (const f of findings) process.stdout.write(`  ${f.file}:${f.line} [${f.rule}] ${f.message}\n`);
  process.stdout.write(
    `secret scan: ${findings.length === 0 ? "passed" : `FAILED, ${findings.length} finding(s)`} ` +
      `(${scanned} of ${files.length} files scanned; not read: .secretlintrc.json, .secretlintignore and what it lists; ` +
      `${Math.round(performance.now() - started)} ms)\n`,
  );
  process.exit(findings.length === 0 ? 0 : 1);
}
