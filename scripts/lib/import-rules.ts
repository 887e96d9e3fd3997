/**
 * Workspace boundaries, checked from the source text. A package here is the root package (its
 * folder is the repository minus the workspace folders: scripts/, bench/, image/, the root's own
 * config files) or one of the npm workspaces in the root package.json. A nested workspace
 * (proto/io inside proto/) is its own package: its parent's files may not reach into it by path.
 *
 * The rules, one {@link Violation} for each import that breaks one:
 * - a relative import resolves into the folder of the package the file belongs to;
 * - `@avtech/<x>[/sub]` names a workspace, `sub` matches a key of x's package.json `exports` (a
 *   `*` pattern counts) whose target exists, and the importing package declares x in its
 *   dependencies, devDependencies, optionalDependencies or peerDependencies (a package may import
 *   itself by name without declaring itself);
 * - no import along a forbidden edge ({@link forbiddenEdges}: the control plane and the player
 *   never import each other);
 * - inside a layered source folder ({@link layerRules}: control-plane/src), a relative import goes
 *   to the importing file's own layer or a lower one, never to a higher layer or an entry point.
 *
 * Files come from `git ls-files --cached --others --exclude-standard`, so ignored build outputs
 * (node_modules, dist, image/work, ...) are never read; generated code (`src/gen`) is skipped
 * because its imports are buf's, not ours. Imports are read with TypeScript's own pre-processor
 * (static, `export ... from`, side-effect and literal dynamic imports; comments and strings are
 * not mistaken for imports).
 */

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import ts from "typescript";

/** The scope of our own packages: only imports of `@avtech/...` are checked against exports and dependencies. */
export const scope = "@avtech/";

/** Package pairs that must never import each other, in either direction. */
export const forbiddenEdges: readonly (readonly [string, string])[] = [["@avtech/control-plane", "@avtech/player"]];

/**
 * Files of the root package any workspace may import by relative path, each with the reason. The
 * root package is the repository's tooling, not a library a workspace could depend on, so these
 * are shared by path; nothing else of the root is reachable from a workspace.
 */
export const sharedRootFiles: ReadonlyMap<string, string> = new Map([
  ["vitest.shared.ts", "the test selection every vitest project shares"],
  ["bench/metric.ts", "the metric format bench/run.ts reads from each workspace's benchmarks"],
]);

/**
 * A source folder split into layers: its top-level folders named in `layers`, lowest first. Every
 * other file of the folder (top-level files, other folders) is an entry point, above every layer.
 */
export interface LayerRule {
  /** From the repository root, with `/` separators. */
  folder: string;
  /** Top-level folders of `folder`, lowest layer first. */
  layers: readonly string[];
}

/**
 * The layered source folders. A file in a layer may import its own layer and the layers below it;
 * an entry point may import anything; nothing in a layer imports an entry point. Type-only imports
 * count like any other. Imports that leave the folder (a test helper in test/lib) are left to the
 * other rules. The control plane's rule is explained in control-plane/README.md ("Source map").
 */
export const layerRules: readonly LayerRule[] = [
  { folder: "control-plane/src", layers: ["platform", "core", "fleet"] },
];

/** Where `path` sits in `rule`: its layer's index, or `layers.length` for an entry point; undefined outside the folder. */
function layerRank(rule: LayerRule, path: string): { rank: number; name: string } | undefined {
  if (!path.startsWith(`${rule.folder}/`)) return undefined;
  const rest = path.slice(rule.folder.length + 1);
  const slash = rest.indexOf("/");
  const top = slash < 0 ? undefined : rest.slice(0, slash);
  const rank = top === undefined ? -1 : rule.layers.indexOf(top);
  return rank < 0 ? { rank: rule.layers.length, name: "an entry point" } : { rank, name: `layer "${top}"` };
}

/** Why an import from `file` to `target` (both from the repository root) breaks a layer rule, if it does. */
function layerViolation(file: string, target: string): string | undefined {
  for (const rule of layerRules) {
    const from = layerRank(rule, file);
    const to = layerRank(rule, target);
    if (from === undefined || to === undefined || to.rank <= from.rank) continue;
    return `${rule.folder}: ${from.name} imports ${to.name}; a layer imports only itself and lower layers (${rule.layers.join(" < ")} < entry points)`;
  }
  return undefined;
}

/** One import that breaks a rule: where it is, what it imports and why that is not allowed. */
export interface Violation {
  /** Path from the repository root, with `/` separators. */
  file: string;
  /** 1-based line of the import. */
  line: number;
  /** The module specifier as written. */
  specifier: string;
  reason: string;
}

/** A package as the checker sees it. */
export interface PackageInfo {
  name: string;
  /** Folder from the repository root, `""` for the root package. */
  folder: string;
  /** `exports` keys mapped to their target path (from the repository root); undefined when there is no `exports` field. */
  exports: Map<string, string | undefined> | undefined;
  /** Every package named in dependencies, devDependencies, optionalDependencies or peerDependencies. */
  declared: Set<string>;
}

interface PackageJson {
  name?: string;
  workspaces?: string[];
  exports?: unknown;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function readPackage(root: string, folder: string): PackageInfo {
  const path = join(root, folder, "package.json");
  const json = JSON.parse(readFileSync(path, "utf8")) as PackageJson;
  if (json.name === undefined) throw new Error(`${path} has no name`);
  const declared = new Set<string>();
  for (const deps of [json.dependencies, json.devDependencies, json.optionalDependencies, json.peerDependencies]) {
    for (const name of Object.keys(deps ?? {})) declared.add(name);
  }
  return { name: json.name, folder, exports: exportMap(json.exports, folder), declared };
}

/** `exports` as subpath → target; a bare string or conditions object is the "." entry. */
function exportMap(field: unknown, folder: string): Map<string, string | undefined> | undefined {
  if (field === undefined) return undefined;
  const entries =
    typeof field === "string" || !isSubpathMap(field) ? [[".", field] as const] : Object.entries(field as object);
  const map = new Map<string, string | undefined>();
  for (const [key, value] of entries) {
    const target = conditionTarget(value);
    map.set(key, target === undefined ? undefined : posix.join(folder, target));
  }
  return map;
}

function isSubpathMap(field: unknown): boolean {
  return typeof field === "object" && field !== null && Object.keys(field).every((key) => key.startsWith("."));
}

/** The file a Node import resolves an `exports` value to (string, or the import/node/default condition). */
function conditionTarget(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value !== "object" || value === null) return undefined;
  const conditions = value as Record<string, unknown>;
  for (const condition of ["import", "node", "default"]) {
    const target = conditionTarget(conditions[condition]);
    if (target !== undefined) return target;
  }
  return undefined;
}

/** The root package and its workspaces, from the root package.json (workspace entries are folders; globs are not supported). */
export function readPackages(root: string): PackageInfo[] {
  const rootJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson;
  const folders = rootJson.workspaces ?? [];
  for (const folder of folders) {
    if (folder.includes("*")) throw new Error(`workspace "${folder}": globs are not supported, list the folder`);
  }
  return [readPackage(root, ""), ...folders.map((folder) => readPackage(root, posix.normalize(folder)))];
}

/** The package owning a path: the one with the longest folder that contains it (the root owns the rest). */
export function ownerOf(packages: readonly PackageInfo[], path: string): PackageInfo {
  let owner: PackageInfo | undefined;
  for (const pkg of packages) {
    const inside = pkg.folder === "" || path === pkg.folder || path.startsWith(`${pkg.folder}/`);
    if (inside && (owner === undefined || pkg.folder.length > owner.folder.length)) owner = pkg;
  }
  if (owner === undefined) throw new Error(`no package owns ${path}`);
  return owner;
}

/** TypeScript sources under `root` that git tracks or would track, minus generated code. */
export function sourceFiles(root: string): string[] {
  let out: string;
  try {
    out = execFileSync(
      "git",
      ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.ts", "*.tsx", "*.mts", "*.cts"],
      { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] },
    );
  } catch (error) {
    throw new Error(`import rules: "git ls-files" failed in ${root}; the check reads a git checkout`, {
      cause: error,
    });
  }
  return out
    .split("\0")
    .filter((file) => file !== "" && !/(^|\/)src\/gen\//.test(file) && !/(^|\/)node_modules\//.test(file))
    .filter((file) => existsSync(join(root, file)))
    .sort();
}

/** Whether `subpath` (".", "./x/y.js") matches an `exports` key, `*` patterns included; returns the target. */
function matchExport(exports: Map<string, string | undefined>, subpath: string): { target: string | undefined } | null {
  const exact = exports.get(subpath);
  if (exports.has(subpath)) return { target: exact };
  for (const [key, target] of exports) {
    const star = key.indexOf("*");
    if (star < 0) continue;
    const prefix = key.slice(0, star);
    const suffix = key.slice(star + 1);
    if (subpath.length >= key.length - 1 && subpath.startsWith(prefix) && subpath.endsWith(suffix)) {
      const filled = subpath.slice(prefix.length, subpath.length - suffix.length);
      return { target: target?.replaceAll("*", filled) };
    }
  }
  return null;
}

/** Checks one import of `file` (owned by `owner`) against every rule. */
function checkImport(
  root: string,
  packages: readonly PackageInfo[],
  owner: PackageInfo,
  file: string,
  specifier: string,
): string[] {
  const reasons: string[] = [];
  if (specifier.startsWith("./") || specifier.startsWith("../") || specifier === "." || specifier === "..") {
    const target = posix.normalize(posix.join(posix.dirname(file), specifier));
    if (target === ".." || target.startsWith("../")) return ["relative import leaves the repository"];
    if (sharedRootFiles.has(target)) return [];
    const into = ownerOf(packages, target);
    if (into !== owner) {
      reasons.push(
        `relative import leaves ${owner.name} (${owner.folder || "the root"}) into ${into.name} (${into.folder || "the root"}): import it as a package`,
      );
    }
    const layer = layerViolation(file, target);
    if (layer !== undefined) reasons.push(layer);
    return reasons;
  }
  if (!specifier.startsWith(scope)) return reasons;
  const [, packagePart = "", ...rest] = specifier.split("/");
  const name = `${scope}${packagePart}`;
  const subpath = rest.length === 0 ? "." : `./${rest.join("/")}`;
  const pkg = packages.find((p) => p.name === name);
  if (pkg === undefined) return [`${name} is not a workspace of this repository`];
  for (const [a, b] of forbiddenEdges) {
    if ((owner.name === a && name === b) || (owner.name === b && name === a)) {
      reasons.push(`${a} and ${b} must never import each other`);
    }
  }
  if (pkg.exports === undefined) {
    reasons.push(`${name} has no "exports" in ${pkg.folder}/package.json`);
  } else {
    const match = matchExport(pkg.exports, subpath);
    if (match === null) {
      reasons.push(`"${subpath}" is not in the "exports" of ${name} (${[...pkg.exports.keys()].join(", ")})`);
    } else if (match.target !== undefined && !existsSync(join(root, match.target))) {
      reasons.push(`${name} exports "${subpath}" as ${match.target}, which does not exist`);
    }
  }
  if (pkg !== owner && !owner.declared.has(name)) {
    const manifest = owner.folder === "" ? "package.json" : `${owner.folder}/package.json`;
    reasons.push(`${owner.name} does not declare ${name} in ${manifest}`);
  }
  return reasons;
}

/** Every import in the repository at `root` that breaks a rule, in file order. */
export function checkImportRules(root: string): Violation[] {
  const packages = readPackages(root);
  const violations: Violation[] = [];
  for (const file of sourceFiles(root)) {
    const owner = ownerOf(packages, file);
    const text = readFileSync(join(root, file), "utf8");
    const { importedFiles } = ts.preProcessFile(text, true, true);
    for (const imported of importedFiles) {
      for (const reason of checkImport(root, packages, owner, file, imported.fileName)) {
        const line = text.slice(0, imported.pos).split("\n").length;
        violations.push({ file, line, specifier: imported.fileName, reason });
      }
    }
  }
  return violations;
}

/** One line per violation: `file:line: "specifier": reason`. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.file}:${v.line}: "${v.specifier}": ${v.reason}`).join("\n");
}

/** The repository this file lives in. */
export const repoRoot = dirname(dirname(import.meta.dirname));
