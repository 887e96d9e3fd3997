import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** The image/ folder and the repository root. */
export const imageDir = join(import.meta.dirname, "..");
export const repoDir = join(imageDir, "..");
/** The ansible `player` role: the one source of the image's unit and config files. */
export const roleDir = join(repoDir, "ansible/roles/player");

/** Runs a bash snippet with the image recipe's libraries sourced (the same functions build.sh uses). */
export async function recipe(script: string, env: Record<string, string> = {}): Promise<string> {
  const libs = ["common", "boot", "assemble", "bundle"].map((l) => `source "${imageDir}/lib/${l}.sh"`).join("\n");
  const { stdout } = await exec("bash", ["-c", `set -euo pipefail\n${libs}\n${script}`], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Runs a program; resolves with its exit code and output instead of throwing. */
export async function runProgram(
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(command, [...args], {
      env: { ...process.env, ...env },
      ...(cwd === undefined ? {} : { cwd }),
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/**
 * Bootstraps a minimal Debian 12 (amd64, so it runs at native speed) with python3 and systemd into a tarball at
 * `tarball`: the target the ansible idempotence checks apply their roles to.
 */
export async function bootstrapDebianRoot(tarball: string): Promise<{ code: number; stderr: string }> {
  return runProgram("mmdebstrap", [
    "--variant=minbase",
    "--include=python3,python3-apt,systemd-sysv,udev,dbus",
    "bookworm",
    tarball,
    "http://deb.debian.org/debian",
  ]);
}

/** Reads `Key=Value` lines of a systemd unit into a multimap. */
export function unitSettings(text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match === null) continue;
    const [, key, value] = match as unknown as [string, string, string];
    settings.set(key, [...(settings.get(key) ?? []), value]);
  }
  return settings;
}

/**
 * Renders one of a role's Jinja templates (`role`: a folder under ansible/roles; default the player
 * role) with the role defaults plus `vars`.
 */
export async function renderRoleTemplate(
  name: string,
  vars: Record<string, unknown>,
  role: string = roleDir,
): Promise<string> {
  const script = `
import json, sys, yaml, jinja2
defaults = yaml.safe_load(open(sys.argv[1]))
defaults.update(json.loads(sys.argv[3]))
defaults.setdefault("ansible_managed", "Ansible managed")
env = jinja2.Environment(loader=jinja2.FileSystemLoader(sys.argv[2]), undefined=jinja2.StrictUndefined)
sys.stdout.write(env.get_template(sys.argv[4]).render(**defaults))
`;
  const { stdout } = await exec("python3", [
    "-c",
    script,
    join(role, "defaults/main.yml"),
    join(role, "templates"),
    JSON.stringify(vars),
    name,
  ]);
  return stdout;
}
