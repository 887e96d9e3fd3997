# Stage "assemble": the raw disk image, built from files with no loop devices and no mounts: a FAT boot
# partition (mkfs.vfat + mcopy), ext4 root slots and data partition (mkfs.ext4 -d), an MBR partition table
# (sfdisk on a plain file) and the partitions copied in with dd. The tests call these functions directly on
# small trees, so the fast suite checks the same code the image build runs.
#
# Layout (A/B, updated by RAUC, see image/README.md): 1 BOOT (FAT: Pi firmware, U-Boot, boot.scr, boot state,
# site files), 2 ROOT_A and 3 ROOT_B (the two root slots, each AVTECH_ROOT_SLOT_MIB; the image fills A, B is
# an empty file system until the first update), 4 DATA (grown to fill the card on first boot).

# Partition layout (MiB). The first partition starts at 4 MiB (SD card erase-block alignment).
: "${AVTECH_BOOT_OFFSET_MIB:=4}"
: "${AVTECH_BOOT_MIB:=256}"
# Each root slot's partition. Fixed for the life of a fleet: every later update's root file system must fit it
# (the image's own is ~1.4 GiB), and the partitions cannot move once cards are in the field.
: "${AVTECH_ROOT_SLOT_MIB:=2048}"
# The data partition starts small and fills the card on first boot (avtech-grow-data + x-systemd.growfs).
: "${AVTECH_DATA_MIB:=256}"
# Free space left in the read-only root file system, in percent of its contents (plus a fixed 64 MiB).
: "${AVTECH_ROOT_HEADROOM_PERCENT:=10}"
# The MBR disk identifier, which the slots' PARTUUIDs (<id>-02, <id>-03) are made of: U-Boot's boot.scr and RAUC's
# system.conf find the slots by them. Every card made from the image shares it; it cannot change in the field.
: "${AVTECH_DISK_ID:=0x41565445}"

# make_fat_partition SRC_DIR OUT SIZE_MIB LABEL: a FAT32 image holding SRC_DIR's files.
make_fat_partition() {
  local src=$1 out=$2 mib=$3 label=$4
  need mkfs.vfat dosfstools
  need mcopy mtools
  rm -f "$out"
  mkfs.vfat -F 32 -n "$label" -C "$out" $((mib * 1024)) >/dev/null
  if [[ -n $(ls -A "$src") ]]; then
    # -s recursive, -p keep attributes, -m keep modification times, -Q stop at the first error.
    mcopy -i "$out" -s -p -m -Q "$src"/* ::
  fi
}

# make_ext4_partition SRC_DIR OUT SIZE_MIB LABEL [UID:GID]: an ext4 image populated from SRC_DIR (owners,
# modes, links and special files are kept; the root folder gets UID:GID, default 0:0).
make_ext4_partition() {
  local src=$1 out=$2 mib=$3 label=$4 owner=${5:-0:0}
  need mkfs.ext4 e2fsprogs
  rm -f "$out"
  truncate -s "${mib}M" "$out"
  mkfs.ext4 -q -F -L "$label" -E "root_owner=$owner" -d "$src" "$out"
}

# check_partitions BOOT_IMG EXT4_IMG...: read-only file system checks of the partition images.
check_partitions() {
  fsck.vfat -n "$1" >/dev/null || die "fsck.vfat reports errors in $1"
  shift
  local img
  for img in "$@"; do
    e2fsck -fn "$img" >/dev/null || die "e2fsck reports errors in $img"
  done
}

# make_disk OUT BOOT_IMG ROOT_A_IMG ROOT_B_IMG DATA_IMG: an MBR disk image (identifier AVTECH_DISK_ID) with the
# four partitions in that order. The root slots' partitions are AVTECH_ROOT_SLOT_MIB whatever the size of the
# file systems in them; the others are the size of their images.
make_disk() {
  local out=$1 boot=$2 root_a=$3 root_b=$4 data=$5
  need sfdisk fdisk
  local s=$((1024 * 1024 / 512)) img
  local slot=$((AVTECH_ROOT_SLOT_MIB * s))
  for img in "$root_a" "$root_b"; do
    (($(stat -c %s "$img") <= slot * 512)) ||
      die "$img ($(($(stat -c %s "$img") / 1048576)) MiB) does not fit a root slot of $AVTECH_ROOT_SLOT_MIB MiB (AVTECH_ROOT_SLOT_MIB)"
  done
  local start_boot size_boot start_a start_b start_data size_data
  start_boot=$((AVTECH_BOOT_OFFSET_MIB * s))
  size_boot=$(($(stat -c %s "$boot") / 512))
  start_a=$((start_boot + size_boot))
  start_b=$((start_a + slot))
  start_data=$((start_b + slot))
  size_data=$(($(stat -c %s "$data") / 512))
  rm -f "$out"
  truncate -s $(((start_data + size_data) * 512)) "$out"
  sfdisk --quiet --no-reread --no-tell-kernel "$out" <<SFDISK
label: dos
label-id: $AVTECH_DISK_ID
unit: sectors
start=$start_boot, size=$size_boot, type=c, bootable
start=$start_a, size=$slot, type=83
start=$start_b, size=$slot, type=83
start=$start_data, size=$size_data, type=83
SFDISK
  dd if="$boot" of="$out" bs=4M seek=$((start_boot * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
  dd if="$root_a" of="$out" bs=4M seek=$((start_a * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
  dd if="$root_b" of="$out" bs=4M seek=$((start_b * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
  dd if="$data" of="$out" bs=4M seek=$((start_data * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
}

# split_rootfs ROOTFS BOOT_DIR DATA_DIR DATA_MOUNT: move the boot partition's files and the data partition's
# initial contents out of the root tree, leaving empty mount points behind. Once split (a repeated assemble),
# the trees from the first split are used as they are.
split_rootfs() {
  local rootfs=$1 boot=$2 data=$3 mount=$4
  if [[ -d $boot && -z $(ls -A "$rootfs/boot/firmware") ]]; then
    return
  fi
  rm -rf "$boot" "$data"
  mkdir -p "$boot" "$data" "$rootfs/boot/firmware" "$rootfs$mount"
  find "$rootfs/boot/firmware" -mindepth 1 -maxdepth 1 -exec mv -t "$boot" {} +
  find "$rootfs$mount" -mindepth 1 -maxdepth 1 -exec mv -t "$data" {} +
}

# owner_of ROOTFS USER: "uid:gid" of USER in the root file system's passwd.
owner_of() {
  awk -F: -v u="$2" '$1 == u { print $3 ":" $4 }' "$1/etc/passwd"
}

# assemble_image ROOTFS PARTS_DIR OUT_IMG: partition images (checked) and the disk image. PARTS_DIR/root.img
# (slot A's file system) is also what `make update-bundle` puts into an update bundle.
assemble_image() {
  local rootfs=$1 parts=$2 out=$3
  [[ -d $rootfs/etc ]] || die "no root file system at $rootfs: run the rootfs stage first"
  mkdir -p "$parts"
  local data_mount=/var/lib/avtech owner
  owner=$(owner_of "$rootfs" avtech)
  [[ -n $owner ]] || die "no avtech user in $rootfs/etc/passwd: the player role did not run"
  split_rootfs "$rootfs" "$parts/boot-tree" "$parts/data-tree" "$data_mount"
  link_slot_kernel "$rootfs"
  install_boot_chain "$parts/boot-tree" "$rootfs"
  local root_content root_mib empty
  root_content=$(mib_of_dir "$rootfs")
  root_mib=$(((root_content * (100 + AVTECH_ROOT_HEADROOM_PERCENT) / 100 + 64 + 3) / 4 * 4))
  log "assemble: boot $AVTECH_BOOT_MIB MiB, root slots $AVTECH_ROOT_SLOT_MIB MiB each (slot A's file system $root_mib MiB, $root_content MiB used), data $AVTECH_DATA_MIB MiB"
  make_fat_partition "$parts/boot-tree" "$parts/boot.img" "$AVTECH_BOOT_MIB" BOOT
  make_ext4_partition "$rootfs" "$parts/root.img" "$root_mib" ROOT_A
  echo "$AVTECH_VERSION" >"$parts/root.version"
  empty=$(mktemp -d)
  make_ext4_partition "$empty" "$parts/root-b.img" "$AVTECH_ROOT_SLOT_MIB" ROOT_B
  rmdir "$empty"
  make_ext4_partition "$parts/data-tree" "$parts/data.img" "$AVTECH_DATA_MIB" DATA "$owner"
  log "assemble: checking the partitions (fsck.vfat -n, e2fsck -fn)"
  check_partitions "$parts/boot.img" "$parts/root.img" "$parts/root-b.img" "$parts/data.img"
  make_disk "$out" "$parts/boot.img" "$parts/root.img" "$parts/root-b.img" "$parts/data.img"
  log "assemble: $(basename "$out"), $(($(stat -c %s "$out") / 1048576)) MiB"
  sfdisk --dump "$out" | sed 's/^/  /'
}
