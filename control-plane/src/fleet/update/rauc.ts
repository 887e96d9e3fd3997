import { nodeProcessRunner, type ProcessRunner } from "../../core/content/index.ts";

/** What a verified bundle's manifest and signature say. */
export interface BundleInfo {
  compatible: string;
  version: string;
  /** Subject of the certificate that signed it, as RAUC prints it (e.g. "O = AVTech, CN = Release signer"). */
  signer: string;
}

/** Why RAUC refused a file. */
export type BundleProblem =
  /** Not a RAUC bundle, a truncated one, or one in a format the fleet does not install. */
  | "not-a-bundle"
  /** A bundle whose signature does not verify against the keyring (other signer, tampered, expired). */
  | "bad-signature";

/** The outcome of checking one file. */
export type BundleCheck = { ok: true; info: BundleInfo } | { ok: false; problem: BundleProblem; detail: string };

/** Checks uploaded bundles (the real `rauc`; tests use it too). */
export interface BundleVerifier {
  /** Verifies the signature of the bundle at `path` against the keyring and reads its manifest. */
  inspect(path: string): Promise<BundleCheck>;
}

/** Thrown when the verifier itself cannot run (no `rauc`, unreadable keyring): the operator must act. */
export class VerifierUnavailable extends Error {
  override name = "VerifierUnavailable";
}

interface RaucInfoJson {
  compatible?: unknown;
  version?: unknown;
}

/** The last line RAUC wrote about what went wrong, without its log prefixes. */
function lastProblemLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("rauc-Message:"));
  return (lines.at(-1) ?? "rauc refused the file").slice(0, 300);
}

/**
 * A {@link BundleVerifier} running `rauc info --keyring=<keyringPath> --output-format=json <file>`:
 * RAUC checks the bundle's CMS signature against the keyring (the fleet's CA, as the screens have
 * it) and prints the signed manifest. For a verity bundle the signature covers the manifest, which
 * holds the dm-verity root hash of the payload, so the payload itself is checked by the screen's
 * `rauc install` (and its sha256 by the player before that).
 *
 * RAUC's log lines on stderr name the signer ("Verified inline signature by '<subject>'") and the
 * format: an inline signature is a verity (or crypt) bundle, a detached one the plain format, which
 * the fleet's image does not install and which is refused here as not a bundle of the fleet's kind.
 */
export function createRaucVerifier(options: {
  raucPath: string;
  keyringPath: string;
  runner?: ProcessRunner;
  timeoutMs?: number;
}): BundleVerifier {
  const runner = options.runner ?? nodeProcessRunner;
  return {
    async inspect(path) {
      let result: Awaited<ReturnType<ProcessRunner["run"]>>;
      try {
        result = await runner.run(
          options.raucPath,
          ["info", `--keyring=${options.keyringPath}`, "--output-format=json", path],
          { timeoutMs: options.timeoutMs ?? 60_000 },
        );
      } catch (error) {
        throw new VerifierUnavailable(`cannot run ${options.raucPath} (update.raucPath): ${(error as Error).message}`, {
          cause: error,
        });
      }
      const { stdout, stderr } = result;
      if (/failed to load CA file|failed to load keyring/i.test(stderr)) {
        throw new VerifierUnavailable(
          `rauc cannot read the keyring ${options.keyringPath} (update.keyringPath): ${lastProblemLine(stderr)}`,
        );
      }
      if (result.code !== 0) {
        const detail = lastProblemLine(stderr);
        const problem = /signature verification failed|verify error/i.test(detail) ? "bad-signature" : "not-a-bundle";
        return { ok: false, problem, detail };
      }
      const signed = /Verified (inline|detached) signature by '(.*)'/.exec(stderr);
      if (signed?.[1] === "detached") {
        return {
          ok: false,
          problem: "not-a-bundle",
          detail: "the bundle is in RAUC's plain format; build it with `[bundle] format=verity` in its manifest",
        };
      }
      let manifest: RaucInfoJson;
      try {
        manifest = JSON.parse(stdout) as RaucInfoJson;
      } catch {
        return { ok: false, problem: "not-a-bundle", detail: "rauc printed no manifest for it" };
      }
      return {
        ok: true,
        info: {
          compatible: typeof manifest.compatible === "string" ? manifest.compatible : "",
          version: typeof manifest.version === "string" ? manifest.version : "",
          signer: signed?.[2] ?? "",
        },
      };
    },
  };
}
