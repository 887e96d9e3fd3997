import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { imagerEntry, imagerRepository } from "./index.ts";

describe("imagerEntry", () => {
  it("describes both files with their sizes and sha256 and asks Imager not to customise", async () => {
    const dir = await mkdtemp(join(tmpdir(), "avtech-imager-"));
    try {
      await writeFile(join(dir, "a.img"), "raw image bytes");
      await writeFile(join(dir, "a.img.xz"), "xz");
      const entry = await imagerEntry({
        name: "AVTech",
        description: "signage",
        url: "https://dl.example.com/a.img.xz",
        compressedPath: join(dir, "a.img.xz"),
        rawPath: join(dir, "a.img"),
        devices: ["pi4-64bit"],
        releaseDate: new Date("2026-11-23T12:00:00Z"),
      });
      expect(entry).toEqual({
        name: "AVTech",
        description: "signage",
        url: "https://dl.example.com/a.img.xz",
        release_date: "2026-11-23",
        extract_size: 15,
        extract_sha256: createHash("sha256").update("raw image bytes").digest("hex"),
        image_download_size: 2,
        image_download_sha256: createHash("sha256").update("xz").digest("hex"),
        devices: ["pi4-64bit"],
        init_format: "none",
      });
      expect(imagerRepository([entry]).os_list).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
