/** One primary partition of an MBR partition table. */
export interface MbrPartition {
  /** 1-based partition number, as Linux names it (mmcblk0p1). */
  readonly number: number;
  /** MBR type byte, e.g. 0x0c for FAT32 (LBA), 0x83 for Linux. */
  readonly type: number;
  readonly bootable: boolean;
  readonly offsetBytes: number;
  readonly sizeBytes: number;
}

const fatTypes = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);

/** Reads the four primary entries of an MBR (the first 512 bytes of a disk image); empty slots are left out. */
export function parseMbr(sector: Uint8Array): MbrPartition[] {
  if (sector.length < 512 || sector[510] !== 0x55 || sector[511] !== 0xaa) {
    throw new Error("no MBR partition table (missing 55 AA signature): is this a raw .img file, not .img.xz?");
  }
  const view = new DataView(sector.buffer, sector.byteOffset, 512);
  const partitions: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const entry = 446 + i * 16;
    const type = view.getUint8(entry + 4);
    const sectors = view.getUint32(entry + 12, true);
    if (type === 0 || sectors === 0) continue;
    partitions.push({
      number: i + 1,
      type,
      bootable: view.getUint8(entry) === 0x80,
      offsetBytes: view.getUint32(entry + 8, true) * 512,
      sizeBytes: sectors * 512,
    });
  }
  return partitions;
}

/** The boot partition: the first FAT partition (the Raspberry Pi firmware reads only that one). */
export function findBootPartition(partitions: readonly MbrPartition[]): MbrPartition {
  const boot = partitions.find((p) => fatTypes.has(p.type));
  if (boot === undefined) throw new Error("the image has no FAT partition: it is not an AVTech/Raspberry Pi image");
  return boot;
}
