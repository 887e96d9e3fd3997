import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { isBuiltin } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { build, type Metafile } from "esbuild";

const playerDir = resolve(import.meta.dirname, "..");

/** Where `npm run bundle` writes the device build. */
export const defaultOutfile = join(playerDir, "dist", "avtech-player.mjs");

/**
 * Imports left to the runtime on purpose although they are not Node builtins: systeminformation
 * requires these macOS-only sensor packages inside try/catch and does without them elsewhere.
 */
export const optionalExternals: readonly string[] = ["osx-temperature-sensor", "macos-temperature-sensor"];

/**
 * Node flags for the device. `--lite-mode` is V8's memory-saving mode: interpreter only (it
 * implies `--jitless`, so no WebAssembly, and with it no `fetch`, whose HTTP parser is
 * WebAssembly; the player uses node:http and node:http2), lazily allocated feedback, a smaller
 * heap. Measured by bench/memory.bench.ts: the player's RSS while playing drops from ~98 to
 * ~76 MiB for a CPU cost within the noise of a mostly idle player. Do not add
 * `--enable-source-maps` on devices: it costs ~25 MiB.
 */
export const deviceNodeFlags: readonly string[] = ["--lite-mode"];

/** Options of {@link bundlePlayer}. */
export interface BundleOptions {
  /** The entry module; default `player/src/cli.ts` (the `avtech-player` command). */
  entry?: string;
  /** The output file (`.mjs`); its source map is written beside it as `<outfile>.map`. Default {@link defaultOutfile}. */
  outfile?: string;
  /**
   * Minify whitespace, syntax and identifiers. Default true: under `--lite-mode` it saves ~4 MiB
   * of RSS (less source and scope data kept by V8). Function and class names are kept, so stack
   * traces still name functions and `error.name` reads the same; positions map back through the
   * source map.
   */
  minify?: boolean;
}

/** What {@link bundlePlayer} wrote. */
export interface BundleResult {
  outfile: string;
  /** Size of the bundle in bytes. */
  bytes: number;
  mapFile: string;
  mapBytes: number;
  /** Third-party notices of every bundled package (`<outfile without .mjs>.licenses.txt`). */
  licensesFile: string;
  /**
   * esbuild's metafile of the build (`<outfile without .mjs>.meta.json`): which module of which
   * package went into the bundle. The SBOM of the device bundle is made from it (scripts/sbom.ts).
   */
  metafileFile: string;
  /** Bundled npm packages as `name@version`, sorted. */
  packages: string[];
  /** Module specifiers the bundle still imports at run time (Node builtins and {@link optionalExternals}). */
  externals: string[];
}

/**
 * esbuild turns a CommonJS `require("fs")` into a call that throws in an ES module unless a real
 * `require` is in scope; pino, sonic-boom and systeminformation are CommonJS, so the bundle
 * creates one. The alias keeps the banner's import from clashing with bundled names.
 */
const requireShim =
  'import { createRequire as __avtechCreateRequire } from "node:module";\n' +
  "const require = __avtechCreateRequire(import.meta.url);";

/**
 * Bundles the player into one ES module for Node 24 with every npm dependency inside, so a
 * device needs only `node` and this file (no node_modules, no TypeScript stripping at start-up).
 * Fails when the result would import anything but Node builtins at run time.
 */
export async function bundlePlayer(options: BundleOptions = {}): Promise<BundleResult> {
  const entry = options.entry ?? join(playerDir, "src", "cli.ts");
  const outfile = resolve(options.outfile ?? defaultOutfile);
  const minify = options.minify ?? true;
  const result = await build({
    entryPoints: [entry],
    outfile,
    absWorkingDir: playerDir,
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    banner: { js: requireShim },
    external: [...optionalExternals],
    sourcemap: "linked",
    // A device needs the mappings for stack traces, not a second copy of every source file.
    sourcesContent: false,
    minify,
    keepNames: minify,
    legalComments: "none",
    metafile: true,
    logLevel: "silent",
  });

  const externals = externalImports(result.metafile);
  const unexpected = externals.filter((specifier) => !isBuiltin(specifier) && !optionalExternals.includes(specifier));
  if (unexpected.length > 0) {
    throw new Error(
      `the bundle would import ${unexpected.join(", ")} at run time, which a device does not have: ` +
        "bundle it (remove it from `external`) or replace the dependency",
    );
  }
  const packages = await bundledPackages(result.metafile);
  const licensesFile = `${outfile.replace(/\.mjs$/, "")}.licenses.txt`;
  await writeFile(licensesFile, await licenseNotices(packages));
  const metafileFile = `${outfile.replace(/\.mjs$/, "")}.meta.json`;
  await writeFile(metafileFile, JSON.stringify(result.metafile));
  const mapFile = `${outfile}.map`;
  return {
    outfile,
    bytes: (await stat(outfile)).size,
    mapFile,
    mapBytes: (await stat(mapFile)).size,
    licensesFile,
    metafileFile,
    packages: packages.map((p) => `${p.name}@${p.version}`),
    externals,
  };
}

function externalImports(metafile: Metafile): string[] {
  const found = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) if (imported.external) found.add(imported.path);
  }
  return [...found].sort();
}

interface BundledPackage {
  name: string;
  version: string;
  license: string;
  dir: string;
}

/** The npm packages that went into the bundle (a nested copy counts under its innermost node_modules folder). */
async function bundledPackages(metafile: Metafile): Promise<BundledPackage[]> {
  const dirs = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1]) dirs.add(resolve(playerDir, match[1]));
  }
  const packages: BundledPackage[] = [];
  for (const dir of dirs) {
    const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as {
      name: string;
      version: string;
      license?: string;
    };
    packages.push({ name: manifest.name, version: manifest.version, license: manifest.license ?? "unknown", dir });
  }
  return packages.sort((a, b) => a.name.localeCompare(b.name));
}

/** The MIT/ISC/Apache texts require their notices to travel with the code: one file, every package. */
async function licenseNotices(packages: BundledPackage[]): Promise<string> {
  const sections = ["Third-party software bundled into avtech-player.mjs\n"];
  for (const pkg of packages) {
    const files = (await readdir(pkg.dir)).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
    const texts = await Promise.all(files.map((f) => readFile(join(pkg.dir, f), "utf8")));
    const text =
      texts.join("\n").trim() || `The package ships no license text; its package.json declares ${pkg.license}.`;
    sections.push(`${"=".repeat(72)}\n${pkg.name}@${pkg.version}, license ${pkg.license}\n\n${text}\n`);
  }
  return sections.join("\n");
}

if (import.meta.main) {
  const minify = !process.argv.includes("--no-minify");
  const started = performance.now();
  const result = await bundlePlayer({ minify });
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  process.stdout.write(
    `${relative(process.cwd(), result.outfile)}  ${mib(result.bytes)}${minify ? " (minified)" : " (not minified)"}\n` +
      `${relative(process.cwd(), result.mapFile)}  ${mib(result.mapBytes)}\n` +
      `${relative(process.cwd(), result.licensesFile)}  ${result.packages.length} packages\n` +
      `runtime imports: ${result.externals.join(" ")}\n` +
      `built in ${Math.round(performance.now() - started)} ms into ${relative(process.cwd(), dirname(result.outfile))}\n`,
  );
}
