import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BootFile } from "../site/index.ts";
import { findBootPartition, type MbrPartition, parseMbr } from "./mbr.ts";

/** Runs a program and returns its standard output; rejects with its standard error when it fails. */
export interface Runner {
  run(command: string, args: readonly string[]): Promise<string>;
}

/** Reads the partition table of a raw disk image (only its first sector is read). */
export async function readPartitions(imagePath: string): Promise<MbrPartition[]> {
  const handle = await open(imagePath, "r");
  try {
    const sector = new Uint8Array(512);
    await handle.read(sector, 0, 512, 0);
    return parseMbr(sector);
  } finally {
    await handle.close();
  }
}

/** mtools' `image@@offset` notation for the boot partition inside a disk image. */
async function partitionSpec(imagePath: string): Promise<string> {
  return `${imagePath}@@${findBootPartition(await readPartitions(imagePath)).offsetBytes}`;
}

/**
 * Writes files into the boot (FAT) partition of a raw disk image with mtools: no root, no loop device, no
 * mount. Existing files of the same name are replaced.
 */
export async function writeBootFiles(imagePath: string, files: readonly BootFile[], runner: Runner): Promise<void> {
  const spec = await partitionSpec(imagePath);
  const dir = await mkdtemp(join(tmpdir(), "avtech-boot-"));
  try {
    for (const file of files) {
      const local = join(dir, file.name);
      await writeFile(local, file.content);
      await runner.run("mcopy", ["-o", "-i", spec, local, `::${file.name}`]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads one file back from the boot partition of a raw disk image (mtools' mtype). */
export async function readBootFile(imagePath: string, name: string, runner: Runner): Promise<string> {
  return runner.run("mtype", ["-i", await partitionSpec(imagePath), `::${name}`]);
}

/** Lists the boot partition's top-level file names. */
export async function listBootFiles(imagePath: string, runner: Runner): Promise<string[]> {
  const out = await runner.run("mdir", ["-b", "-i", await partitionSpec(imagePath), "::"]);
  return out
    .split("\n")
    .map((line) => line.trim().replace(/^::\/?/, ""))
    .filter((line) => line.length > 0);
}
