import { describe, expect, it } from "vitest";
import { findBootPartition, parseMbr } from "./mbr.ts";

function mbr(entries: Array<{ type: number; start: number; sectors: number; boot?: boolean }>): Uint8Array {
  const sector = new Uint8Array(512);
  const view = new DataView(sector.buffer);
  entries.forEach((e, i) => {
    const at = 446 + i * 16;
    view.setUint8(at, e.boot === true ? 0x80 : 0);
    view.setUint8(at + 4, e.type);
    view.setUint32(at + 8, e.start, true);
    view.setUint32(at + 12, e.sectors, true);
  });
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

describe("parseMbr", () => {
  it("reads offsets and sizes in bytes and finds the FAT boot partition", () => {
    const parts = parseMbr(
      mbr([
        { type: 0x0c, start: 8192, sectors: 524288, boot: true },
        { type: 0x83, start: 532480, sectors: 100 },
      ]),
    );
    expect(parts).toEqual([
      { number: 1, type: 0x0c, bootable: true, offsetBytes: 4194304, sizeBytes: 268435456 },
      { number: 2, type: 0x83, bootable: false, offsetBytes: 532480 * 512, sizeBytes: 51200 },
    ]);
    expect(findBootPartition(parts).number).toBe(1);
  });

  it("rejects a compressed image or a disk without a FAT partition, saying why", () => {
    expect(() => parseMbr(new Uint8Array(512))).toThrow(/not \.img\.xz/);
    expect(() => findBootPartition(parseMbr(mbr([{ type: 0x83, start: 2048, sectors: 10 }])))).toThrow(
      /no FAT partition/,
    );
  });
});
