import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";

/** The Raspberry Pi Imager device tags an image is offered for. */
export type ImagerDevice = "pi4-64bit" | "pi5-64bit";

/** One entry of a Raspberry Pi Imager repository's `os_list` (`rpi-imager --repo <url-of-json>`). */
export interface ImagerEntry {
  readonly name: string;
  readonly description: string;
  readonly url: string;
  readonly release_date: string;
  readonly extract_size: number;
  readonly extract_sha256: string;
  readonly image_download_size: number;
  readonly image_download_sha256: string;
  readonly devices: readonly ImagerDevice[];
  /** "none": Imager 2.x must not try to customise the image; sites use avtech.toml on the boot partition. */
  readonly init_format: "none";
}

/** Inputs of {@link imagerEntry}. */
export interface ImagerEntryInput {
  readonly name: string;
  readonly description: string;
  /** Where the .img.xz will be downloaded from. */
  readonly url: string;
  /** The compressed image (.img.xz) and the raw image it expands to. */
  readonly compressedPath: string;
  readonly rawPath: string;
  readonly devices: readonly ImagerDevice[];
  readonly releaseDate: Date;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Builds the Imager repository entry for a built image (sizes and sha256 of both files). */
export async function imagerEntry(input: ImagerEntryInput): Promise<ImagerEntry> {
  const [compressed, raw, compressedSha, rawSha] = await Promise.all([
    stat(input.compressedPath),
    stat(input.rawPath),
    sha256Of(input.compressedPath),
    sha256Of(input.rawPath),
  ]);
  return {
    name: input.name,
    description: input.description,
    url: input.url,
    release_date: input.releaseDate.toISOString().slice(0, 10),
    extract_size: raw.size,
    extract_sha256: rawSha,
    image_download_size: compressed.size,
    image_download_sha256: compressedSha,
    devices: input.devices,
    init_format: "none",
  };
}

/** A whole repository file for `rpi-imager --repo`. */
export function imagerRepository(entries: readonly ImagerEntry[]): { os_list: readonly ImagerEntry[] } {
  return { os_list: entries };
}
