import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { imageDir, recipe as imageRecipe, renderRoleTemplate, roleDir } from "./helpers.ts";

const layer = join(imageDir, "yocto/meta-avtech");

describe("yocto/meta-avtech stays consistent with the Debian image", () => {
  it("takes every unit, script and drop-in it installs from the ansible player role", async () => {
    const recipe = await readFile(join(layer, "recipes-avtech/avtech-player/avtech-player_0.1.0.bb"), "utf8");
    const layerConf = await readFile(join(layer, "conf/layer.conf"), "utf8");
    expect(layerConf).toMatch(/^AVTECH_ROLE_FILES = "\$\{AVTECH_REPO_DIR\}\/ansible\/roles\/player\/files"$/m);
    // Local files only (LIC_FILES_CHKSUM also uses file:// with a ${...} path).
    const files = [...recipe.matchAll(/file:\/\/([^$\s]\S*)/g)].map((m) => m[1] as string);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) await access(join(roleDir, "files", file));
    const services = /SYSTEMD_SERVICE:\$\{PN\} = "([^"]+)"/.exec(recipe)?.[1]?.split(" ") ?? [];
    expect(services.sort()).toEqual([
      "avtech-boot-config.service",
      "avtech-grow-data.service",
      "avtech-player.service",
    ]);
    for (const unit of services) expect(files).toContain(`systemd/${unit}`);
  });

  it("installs the player's device bundle where the unit runs it, and the avtech-player command", async () => {
    const recipe = await readFile(join(layer, "recipes-avtech/avtech-player/avtech-player_0.1.0.bb"), "utf8");
    const unit = await readFile(join(roleDir, "files/systemd/avtech-player.service"), "utf8");
    expect(unit).toContain("/opt/avtech/player/avtech-player.mjs run");
    expect(recipe).toMatch(/player\/build\/bundle\.ts/);
    expect(recipe).toMatch(
      /install -m 0644 \$\{S\}\/player\/dist\/avtech-player\.mjs .* \$\{D\}\/opt\/avtech\/player\//,
    );
    expect(recipe).toMatch(
      /install -D -m 0755 \$\{WORKDIR\}\/bin\/avtech-player \$\{D\}\/usr\/local\/bin\/avtech-player$/m,
    );
  });

  it("ships the role's fstab and default site files, rendered", async () => {
    const pairs = [
      ["fstab.j2", "recipes-core/base-files/files/fstab"],
      ["avtech.toml.j2", "recipes-avtech/avtech-boot-files/files/avtech.toml"],
      ["avtech-system.toml.j2", "recipes-avtech/avtech-boot-files/files/avtech-system.toml"],
    ] as const;
    for (const [template, copy] of pairs) {
      expect(await readFile(join(layer, copy), "utf8"), copy).toBe(await renderRoleTemplate(template, {}));
    }
  });

  it("uses the image's partitions: labels in order, and root slots of the image's slot size", async () => {
    const wks = await readFile(join(layer, "wic/avtech-sdimage.wks"), "utf8");
    const parts = wks.split("\n").filter((l) => l.startsWith("part "));
    expect(parts.map((l) => /--label (\S+)/.exec(l)?.[1])).toEqual(["BOOT", "ROOT_A", "ROOT_B", "DATA"]);
    const slotMib = (await imageRecipe("echo $AVTECH_ROOT_SLOT_MIB")).trim();
    expect(parts.slice(1, 3).map((l) => /--fixed-size (\S+)/.exec(l)?.[1])).toEqual([`${slotMib}M`, `${slotMib}M`]);
  });
});
