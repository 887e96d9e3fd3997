import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { z } from "zod";
import { type InstallFailureReason, type Rauc, type RaucStatus, RaucUnavailable } from "./types.ts";

/** Options of {@link createRaucCli}. */
export interface RaucCliOptions {
  /** The rauc binary; default "rauc" (from PATH). */
  command?: string;
  /**
   * Environment of the rauc processes; default the player's. Tests point the CLI at a RAUC
   * service on a session bus with `DBUS_STARTER_BUS_TYPE=session` and `DBUS_SESSION_BUS_ADDRESS`.
   */
  env?: NodeJS.ProcessEnv;
  /** Limit of `rauc status` and `mark-good`; default 30 000 ms. */
  statusTimeoutMs?: number;
  /** Limit of `rauc install` (writing a root slot to an SD card takes minutes); default 30 min. */
  installTimeoutMs?: number;
}

/**
 * RAUC through its command line, which talks to the RAUC service over D-Bus:
 * `rauc status --detailed --output-format=json`, `rauc install <bundle>` (progress lines
 * "NN% step" on stdout, the reason on a "LastError: …" line), `rauc status mark-good` and
 * `rauc status mark-active <slot>`.
 * Checked against RAUC 1.8 (Debian bookworm): see test/update/rauc-real.test.ts.
 */
export function createRaucCli(options: RaucCliOptions = {}): Rauc {
  const command = options.command ?? "rauc";
  const env = options.env ?? process.env;
  const statusTimeoutMs = options.statusTimeoutMs ?? 30_000;
  const mark = async (args: string[]) => {
    const run = await runLines(command, ["status", ...args], env, statusTimeoutMs);
    if (run.code !== 0) {
      throw new Error(
        `rauc status ${args.join(" ")} failed (exit ${run.code}): ${run.spawnError ?? (firstLine(run.stderr) || firstLine(run.stdout))}`,
      );
    }
  };
  return {
    async status() {
      const run = await runLines(command, ["status", "--detailed", "--output-format=json"], env, statusTimeoutMs);
      if (run.spawnError) {
        throw new RaucUnavailable(`cannot run ${command}: ${run.spawnError}`, { missing: run.notFound });
      }
      if (run.code !== 0) {
        throw new RaucUnavailable(
          `rauc status failed (exit ${run.code}): ${firstLine(run.stderr) || firstLine(run.stdout) || "no output"}`,
          { busy: /already processing a different method/.test(run.stderr) },
        );
      }
      try {
        return parseRaucStatus(run.stdout);
      } catch (error) {
        throw new RaucUnavailable(`rauc status printed no status JSON: ${firstLine(String(error))}`);
      }
    },
    async install(bundlePath, onProgress) {
      let lastError = "";
      const run = await runLines(
        command,
        ["install", bundlePath],
        env,
        options.installTimeoutMs ?? 30 * 60_000,
        (line) => {
          const progress = parseProgressLine(line);
          if (progress) onProgress(progress.percent, progress.step);
          const error = /^LastError: (.*)$/.exec(line.trim());
          if (error?.[1]) lastError = error[1];
        },
      );
      if (run.code === 0) return { type: "Installed" };
      // The service refuses a second installation while one runs ("rauc busy: cannot run install").
      const busy = /rauc busy[^\n]*/i.exec(`${run.stdout}\n${run.stderr}`);
      if (busy) return { type: "Busy", message: busy[0] };
      const message =
        lastError ||
        (run.spawnError ? `cannot run ${command}: ${run.spawnError}` : "") ||
        firstLine(run.stderr) ||
        `rauc install exited with ${run.code}`;
      return { type: "Failed", reason: classifyInstallError(message), message };
    },
    async markGood() {
      await mark(["mark-good"]);
    },
    async markActive(name) {
      await mark(["mark-active", name]);
    },
  };
}

/**
 * Maps RAUC's error line to the contract's reason. The texts are RAUC 1.8's (seen in
 * test/update/rauc-real.test.ts): "Installation error: Compatible mismatch: Expected 'x' but
 * bundle manifest has 'y'", "signature verification failed: Verify error: unable to get local
 * issuer certificate" (an unknown signer), "signature verification failed: error:…:CMS
 * routines::verification failure" (a modified bundle). "Invalid bundle format: Signature size …"
 * (not a bundle at all) is no signature verdict, so it stays INSTALL_FAILED.
 */
export function classifyInstallError(message: string): InstallFailureReason {
  if (/compatible mismatch/i.test(message)) return "INCOMPATIBLE";
  if (/signature verification failed|^verify error|signer certificate/i.test(message)) return "SIGNATURE_INVALID";
  return "INSTALL_FAILED";
}

/** Reads a `rauc install` progress line ("  40% Checking bundle done."). */
export function parseProgressLine(line: string): { percent: number; step: string } | undefined {
  const match = /^\s*(\d{1,3})% (.+)$/.exec(line);
  if (!match) return undefined;
  return { percent: Number(match[1]), step: (match[2] ?? "").trim() };
}

const slotSchema = z.object({
  class: z.string(),
  bootname: z.string().nullish(),
  state: z.string().nullish(),
  boot_status: z.string().nullish(),
  slot_status: z.object({ bundle: z.object({ version: z.string().nullish() }).nullish() }).nullish(),
});

const statusSchema = z.object({
  compatible: z.string(),
  booted: z.string().nullish(),
  boot_primary: z.string().nullish(),
  slots: z.array(z.record(z.string(), slotSchema)),
});

/**
 * Parses `rauc status --detailed --output-format=json`. RAUC names the primary by slot name
 * ("boot_primary": "rootfs.1"); it is returned as that slot's bootname, like "booted".
 */
export function parseRaucStatus(json: string): RaucStatus {
  const raw = statusSchema.parse(JSON.parse(json));
  const slots = raw.slots.flatMap((entry) =>
    Object.entries(entry).map(([name, s]) => ({
      name,
      class: s.class,
      bootname: s.bootname ?? "",
      state: s.state ?? "",
      bootStatus: s.boot_status ?? "",
      bundleVersion: s.slot_status?.bundle?.version ?? "",
    })),
  );
  const primary = slots.find((s) => s.name === raw.boot_primary)?.bootname ?? "";
  return { compatible: raw.compatible, booted: raw.booted ?? "", primary, slots };
}

interface LinesResult {
  code: number;
  stdout: string;
  stderr: string;
  spawnError: string | undefined;
  /** The command does not exist (ENOENT). */
  notFound: boolean;
}

/** Runs a command without a shell, handing each stdout line to `onLine`; never rejects. */
function runLines(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  onLine?: (line: string) => void,
): Promise<LinesResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let spawnError: string | undefined;
    let notFound = false;
    const timer = setTimeout(() => {
      spawnError = `no answer within ${timeoutMs} ms`;
      child.kill("SIGTERM");
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      stdout += `${line}\n`;
      onLine?.(line);
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      spawnError = error.message;
      notFound = error.code === "ENOENT";
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, spawnError, notFound });
    });
  });
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}
