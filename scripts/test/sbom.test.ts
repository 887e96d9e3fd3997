import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bundlePlayer } from "@avtech/player/build";
import { Spec, Validation } from "@cyclonedx/cyclonedx-library";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSboms } from "../sbom.ts";

const root = resolve(import.meta.dirname, "..", "..");

interface Bom {
  bomFormat: string;
  specVersion: string;
  metadata: { component?: { name: string; group?: string } };
  components: Array<{ type: string; name: string; group?: string; version: string; purl?: string }>;
}

const nameOf = (c: { name: string; group?: string }) => (c.group ? `${c.group}/${c.name}` : c.name);
const installed = async (dir: string, name: string): Promise<string | undefined> => {
  for (const base of [join(root, dir, "node_modules"), join(root, "node_modules")]) {
    try {
      return (JSON.parse(await readFile(join(base, name, "package.json"), "utf8")) as { version: string }).version;
    } catch {}
  }
  return undefined;
};
const manifest = async (dir: string) =>
  JSON.parse(await readFile(join(root, dir, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };

// The SBOMs `make build` writes (scripts/sbom.ts), made here from a fresh player bundle in a temp folder.
describe("CycloneDX SBOMs of the server and the device bundle", () => {
  let dir: string;
  let server: Bom;
  let device: Bom;
  let bundled: string[];
  const texts: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "avtech-sbom-"));
    const bundle = await bundlePlayer({ outfile: join(dir, "avtech-player.mjs") });
    bundled = bundle.packages;
    const files = await writeSboms(join(dir, "sbom"), bundle.metafileFile);
    for (const file of [files.controlPlane, files.playerBundle]) texts.push(await readFile(file, "utf8"));
    [server, device] = texts.map((text) => JSON.parse(text) as Bom) as [Bom, Bom];
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("are valid CycloneDX 1.6 JSON by the schema", async () => {
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    for (const text of texts) {
      expect(await validator.validate(text)).toBeNull();
      expect(JSON.parse(text)).toMatchObject({ bomFormat: "CycloneDX", specVersion: "1.6" });
    }
    // The validator is not a no-op: a component without its required `type` fails.
    expect(await validator.validate(JSON.stringify({ ...server, components: [{ name: "x" }] }))).not.toBeNull();
  });

  it("the server's lists every runtime dependency of the control plane at its installed version, and no dev tool", async () => {
    const { dependencies = {}, optionalDependencies = {}, devDependencies = {} } = await manifest("control-plane");
    const components = new Map(server.components.map((c) => [nameOf(c), c.version]));
    for (const name of Object.keys(dependencies)) {
      expect(components.get(name), name).toBe(await installed("control-plane", name));
    }
    // The optional embedded-PostgreSQL binaries: the one for this platform is installed, and listed.
    const optional = Object.keys(optionalDependencies);
    expect(optional.filter((name) => components.has(name)).length).toBeGreaterThan(0);
    for (const name of Object.keys(devDependencies)) {
      if (!(name in dependencies)) expect(components.has(name), `devDependency ${name}`).toBe(false);
    }
    expect(server.components.length).toBeGreaterThan(Object.keys(dependencies).length);
  });

  it("the device bundle's lists exactly the packages in the bundle, every runtime dependency of the player among them", async () => {
    const { dependencies = {} } = await manifest("player");
    const components = device.components.map((c) => `${nameOf(c)}@${c.version}`);
    expect(bundled.length).toBeGreaterThan(5);
    for (const pkg of bundled) expect(components).toContain(pkg);
    for (const name of Object.keys(dependencies)) {
      expect(components, name).toContain(`${name}@${await installed("player", name)}`);
    }
    // Nothing that is not in the bundle: the npm packages plus our own two workspaces it inlines.
    expect(components.filter((c) => !bundled.includes(c)).sort()).toEqual(["@avtech/io@0.1.0", "@avtech/proto@0.1.0"]);
    expect(nameOf(device.metadata.component ?? { name: "" })).toBe("@avtech/player");
  });
});
