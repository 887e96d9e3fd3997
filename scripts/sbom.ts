/**
 * CycloneDX SBOMs (JSON, spec 1.6) of what we ship, made by CycloneDX's own generators:
 *
 * - `control-plane.cdx.json`: the server, `@cyclonedx/cyclonedx-npm` over the installed tree of the
 *   `@avtech/control-plane` workspace without devDependencies (what `npm install --omit=dev` puts
 *   beside it: its runtime dependencies, their dependencies, and the optional embedded-PostgreSQL
 *   binaries).
 * - `player-bundle.cdx.json`: the device bundle, `@cyclonedx/cyclonedx-esbuild` over esbuild's
 *   metafile of `player/dist/avtech-player.mjs`, so it lists exactly the packages whose code is in
 *   the bundle (a device has no node_modules).
 *
 * Both generators validate their output against the CycloneDX schema (`--validate`) and write it
 * reproducibly (no timestamp or random serial number, so an unchanged tree gives the same file).
 * Not covered: the console's browser bundle, which the server serves (see README "Security gates").
 *
 * `node scripts/sbom.ts [outDir]` (default `dist/sbom`) expects `make build` to have bundled the
 * player; `make build` runs it last.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

/** Where `make build` writes the SBOMs. */
export const defaultSbomDir = join(root, "dist", "sbom");
/** The metafile `npm run bundle -w @avtech/player` writes beside the bundle. */
export const defaultPlayerMetafile = join(root, "player", "dist", "avtech-player.meta.json");

/** What {@link writeSboms} wrote. */
export interface SbomFiles {
  controlPlane: string;
  playerBundle: string;
}

/** Writes both SBOMs into `outDir`; rejects with the generator's output when one fails or is invalid. */
export async function writeSboms(
  outDir: string = defaultSbomDir,
  playerMetafile: string = defaultPlayerMetafile,
): Promise<SbomFiles> {
  await mkdir(outDir, { recursive: true });
  const files: SbomFiles = {
    controlPlane: join(outDir, "control-plane.cdx.json"),
    playerBundle: join(outDir, "player-bundle.cdx.json"),
  };
  const common = ["--spec-version", "1.6", "--validate", "--output-reproducible", "--mc-type", "application"];
  await Promise.all([
    run(
      bin("cyclonedx-npm"),
      [
        ...common,
        "--workspace",
        "@avtech/control-plane",
        "--omit",
        "dev",
        "--flatten-components",
        "--output-format",
        "JSON",
        "--output-file",
        files.controlPlane,
      ],
      { cwd: root },
    ),
    run(
      bin("cyclonedx-esbuild"),
      [...common, "--build-working-dir", join(root, "player"), "--output-file", files.playerBundle, playerMetafile],
      { cwd: root },
    ),
  ]);
  return files;
}

if (import.meta.main) {
  const started = performance.now();
  const files = await writeSboms(process.argv[2] ? resolve(process.argv[2]) : undefined);
  process.stdout.write(
    `SBOM (CycloneDX 1.6): ${relative(process.cwd(), files.controlPlane)}, ${relative(process.cwd(), files.playerBundle)}` +
      ` in ${Math.round(performance.now() - started)} ms\n`,
  );
}
