import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkImportRules, formatViolations, repoRoot, type Violation } from "../lib/import-rules.ts";

describe("workspace boundaries of this repository", () => {
  it("hold: no import crosses a workspace by path, reaches past exports, goes undeclared or joins control plane and player", () => {
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
    root = await mkdtemp(join(tmpdir(), "avtech-import-rules-"));
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), text);
    }
    execFileSync("git", ["init", "--quiet"], { cwd: root });
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
