import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkImportRules, formatViolations, repoRoot, type Violation } from "../lib/import-rules.ts";

/** Writes `files` into a new git repository in a temp folder (the checker reads what git tracks or would). */
async function writeFixture(prefix: string, files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  execFileSync("git", ["init", "--quiet"], { cwd: root });
  return root;
}

describe("workspace boundaries of this repository", () => {
  it("hold: no import crosses a workspace by path, reaches past exports, goes undeclared, joins control plane and player or climbs a layer", () => {
    // On failure the message lists each offending import as file:line: "specifier": reason.
    expect(formatViolations(checkImportRules(repoRoot))).toBe("");
  });
});

describe("the import-rule checker on a fixture repository", () => {
  let root: string;
  let violations: Violation[];

  const packageJson = (name: string, extra: object = {}) => JSON.stringify({ name, version: "0.1.0", ...extra });

  /** The fixture: a root package, a workspace `a` with a nested workspace `a/nested`, a control plane and a player. */
  const files: Record<string, string> = {
    ".gitignore": "node_modules/\n",
    "package.json": JSON.stringify({
      name: "fixture",
      private: true,
      workspaces: ["a", "a/nested", "control-plane", "player"],
      devDependencies: { "@avtech/a": "0.1.0" },
    }),
    "vitest.shared.ts": "export const testInclude = [];\n",
    "a/package.json": packageJson("@avtech/a", {
      exports: { ".": "./src/index.ts", "./gen/*": "./src/gen/*", "./missing": "./src/missing.ts" },
      dependencies: { "@avtech/nested": "0.1.0" },
    }),
    "a/vitest.config.ts": 'import { testInclude } from "../vitest.shared.ts";\n',
    "a/src/index.ts": [
      'import { ok } from "./ok.ts";',
      'import { nested } from "../nested/src/index.ts";',
      'import { alsoOk } from "@avtech/nested";',
      'import "@avtech/nested/internal.ts";',
      'import { player } from "@avtech/player";',
      '// import { secret } from "../../player/src/secret.ts"; a comment is not an import',
      "const text = \"import x from '../../player/src/index.ts'\";",
      'export * from "../../player/src/index.ts";',
      'export const lazy = () => import("@avtech/unknown");',
      "",
    ].join("\n"),
    "a/src/ok.ts": "export const ok = 1;\n",
    "a/src/gen/made.js": "export {};\n",
    // Generated code is not checked: its imports are the generator's.
    "a/src/gen/made.d.ts": 'import "../../../player/src/index.ts";\n',
    "a/nested/package.json": packageJson("@avtech/nested", { exports: { ".": "./src/index.ts" } }),
    "a/nested/src/index.ts": 'import { a } from "../../src/ok.ts";\nexport const nested = a;\n',
    "control-plane/package.json": packageJson("@avtech/control-plane", {
      exports: { ".": "./src/index.ts" },
      devDependencies: { "@avtech/player": "0.1.0" },
    }),
    "control-plane/src/index.ts": 'import { player } from "@avtech/player";\n',
    "player/package.json": packageJson("@avtech/player", { exports: { ".": "./src/index.ts" } }),
    "player/src/index.ts": 'import type { Server } from "@avtech/control-plane";\nexport const player = 1;\n',
    "scripts/tool.ts": [
      'import { ok } from "@avtech/a";',
      'import { made } from "@avtech/a/gen/made.js";',
      'import { gone } from "@avtech/a/missing";',
      'import { player } from "@avtech/player";',
      'import { inner } from "../a/src/ok.ts";',
      'import { outside } from "../../elsewhere.ts";',
      "",
    ].join("\n"),
    // Ignored by git, so never read.
    "node_modules/@avtech/a/src/index.ts": 'import "../../../../player/src/index.ts";\n',
  };

  beforeAll(async () => {
    root = await writeFixture("avtech-import-rules-", files);
    violations = checkImportRules(root);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("names file, line and import of every violation, and nothing else", () => {
    expect(violations.map((v) => `${v.file}:${v.line} ${v.specifier}`)).toEqual([
      "a/nested/src/index.ts:1 ../../src/ok.ts",
      "a/src/index.ts:2 ../nested/src/index.ts",
      "a/src/index.ts:4 @avtech/nested/internal.ts",
      "a/src/index.ts:5 @avtech/player",
      "a/src/index.ts:8 ../../player/src/index.ts",
      "a/src/index.ts:9 @avtech/unknown",
      "control-plane/src/index.ts:1 @avtech/player",
      "player/src/index.ts:1 @avtech/control-plane",
      "player/src/index.ts:1 @avtech/control-plane",
      "scripts/tool.ts:3 @avtech/a/missing",
      "scripts/tool.ts:4 @avtech/player",
      "scripts/tool.ts:5 ../a/src/ok.ts",
      "scripts/tool.ts:6 ../../elsewhere.ts",
    ]);
  });

  it("says why", () => {
    const text = formatViolations(violations);
    const lines = text.split("\n");
    // A nested workspace is its own package, in both directions.
    expect(lines[0]).toContain("relative import leaves @avtech/nested (a/nested) into @avtech/a (a)");
    expect(lines[1]).toContain("relative import leaves @avtech/a (a) into @avtech/nested (a/nested)");
    expect(lines[2]).toContain('"./internal.ts" is not in the "exports" of @avtech/nested (.)');
    expect(lines[3]).toContain("@avtech/a does not declare @avtech/player in a/package.json");
    expect(lines[4]).toContain("relative import leaves @avtech/a (a) into @avtech/player (player)");
    expect(lines[5]).toContain("@avtech/unknown is not a workspace of this repository");
    expect(lines[6]).toContain("@avtech/control-plane and @avtech/player must never import each other");
    expect(lines.slice(7, 9).sort()).toEqual([
      expect.stringContaining("@avtech/control-plane and @avtech/player must never import each other"),
      expect.stringContaining("@avtech/player does not declare @avtech/control-plane in player/package.json"),
    ]);
    expect(lines[9]).toContain('@avtech/a exports "./missing" as a/src/missing.ts, which does not exist');
    expect(lines[10]).toContain("fixture does not declare @avtech/player in package.json");
    expect(lines[11]).toContain("relative import leaves fixture (the root) into @avtech/a (a)");
    expect(lines[12]).toContain("relative import leaves the repository");
  });
});

describe("the layer rule on a fixture control plane", () => {
  let root: string;
  let violations: Violation[];

  /** control-plane/src with the real layers (platform < core < fleet) and entry points above them. */
  const files: Record<string, string> = {
    "package.json": JSON.stringify({ name: "fixture", private: true, workspaces: ["control-plane"] }),
    "control-plane/package.json": JSON.stringify({ name: "@avtech/control-plane", exports: { ".": "./src/index.ts" } }),
    "control-plane/src/platform/log.ts": "export const log = 1;\n",
    "control-plane/src/platform/config/config.ts": [
      'import { log } from "../log.ts";',
      'import { defaults } from "../../fleet/fleet/config.ts";',
      'import { main } from "../../main.ts";',
      'import type { Video } from "../../core/content/video.ts";',
      "",
    ].join("\n"),
    "control-plane/src/core/content/routes.ts": [
      'import { log } from "../../platform/log.ts";',
      'import type { Ports } from "../../fleet/fleet/ports.ts";',
      'export const lazy = () => import("../../fleet/asset-http/range.ts");',
      'import { video } from "./video.ts";',
      "",
    ].join("\n"),
    // A test beside the code may use the shared test helpers: leaving src is not a layer question.
    "control-plane/src/core/content/routes.test.ts": 'import { records } from "../../../test/lib/records.ts";\n',
    "control-plane/src/fleet/fleet/service.ts": [
      'import { log } from "../../platform/log.ts";',
      'import { routes } from "../../core/content/routes.ts";',
      'import { run } from "../../admin/commands.ts";',
      "",
    ].join("\n"),
    "control-plane/src/admin/commands.ts": 'import { routes } from "../core/content/routes.ts";\n',
    "control-plane/src/main.ts":
      'import { service } from "./fleet/fleet/service.ts";\nimport { run } from "./admin/commands.ts";\n',
    "control-plane/test/lib/records.ts": 'import { service } from "../../src/fleet/fleet/service.ts";\n',
  };

  beforeAll(async () => {
    root = await writeFixture("avtech-import-layers-", files);
    violations = checkImportRules(root);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("names file, line and import of every import that climbs a layer, type-only and dynamic ones included", () => {
    expect(violations.map((v) => `${v.file}:${v.line} ${v.specifier}`)).toEqual([
      "control-plane/src/core/content/routes.ts:2 ../../fleet/fleet/ports.ts",
      "control-plane/src/core/content/routes.ts:3 ../../fleet/asset-http/range.ts",
      "control-plane/src/fleet/fleet/service.ts:3 ../../admin/commands.ts",
      "control-plane/src/platform/config/config.ts:2 ../../fleet/fleet/config.ts",
      "control-plane/src/platform/config/config.ts:3 ../../main.ts",
      "control-plane/src/platform/config/config.ts:4 ../../core/content/video.ts",
    ]);
  });

  it("says which layer imports which, and the order", () => {
    const order = "(platform < core < fleet < entry points)";
    expect(formatViolations(violations).split("\n")).toEqual([
      `control-plane/src/core/content/routes.ts:2: "../../fleet/fleet/ports.ts": control-plane/src: layer "core" imports layer "fleet"; a layer imports only itself and lower layers ${order}`,
      `control-plane/src/core/content/routes.ts:3: "../../fleet/asset-http/range.ts": control-plane/src: layer "core" imports layer "fleet"; a layer imports only itself and lower layers ${order}`,
      `control-plane/src/fleet/fleet/service.ts:3: "../../admin/commands.ts": control-plane/src: layer "fleet" imports an entry point; a layer imports only itself and lower layers ${order}`,
      `control-plane/src/platform/config/config.ts:2: "../../fleet/fleet/config.ts": control-plane/src: layer "platform" imports layer "fleet"; a layer imports only itself and lower layers ${order}`,
      `control-plane/src/platform/config/config.ts:3: "../../main.ts": control-plane/src: layer "platform" imports an entry point; a layer imports only itself and lower layers ${order}`,
      `control-plane/src/platform/config/config.ts:4: "../../core/content/video.ts": control-plane/src: layer "platform" imports layer "core"; a layer imports only itself and lower layers ${order}`,
    ]);
  });
});
