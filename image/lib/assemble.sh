# Stage "assemble": the raw disk image, built from files with no loop devices and no mounts: a FAT boot
# partition (mkfs.vfat + mcopy), ext4 root and data partitions (mkfs.ext4 -d), an MBR partition table
# (sfdisk on a plain file) and the partitions copied in with dd. The tests call these functions directly on
# small trees, so the fast suite checks the same code the image build runs.

# Partition layout (MiB). The first partition starts at 4 MiB (SD card erase-block alignment).
: "${AVTECH_BOOT_OFFSET_MIB:=4}"
: "${AVTECH_BOOT_MIB:=256}"
# The data partition starts small and fills the card on first boot (avtech-grow-data + x-systemd.growfs).
: "${AVTECH_DATA_MIB:=256}"
# Free space left in the read-only root file system, in percent of its contents (plus a fixed 64 MiB).
: "${AVTECH_ROOT_HEADROOM_PERCENT:=10}"

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

# check_partitions BOOT_IMG ROOT_IMG DATA_IMG: read-only file system checks of the partition images.
check_partitions() {
  fsck.vfat -n "$1" >/dev/null || die "fsck.vfat reports errors in $1"
  e2fsck -fn "$2" >/dev/null || die "e2fsck reports errors in $2"
  e2fsck -fn "$3" >/dev/null || die "e2fsck reports errors in $3"
}

# make_disk OUT BOOT_IMG ROOT_IMG DATA_IMG: an MBR disk image with the three partitions in that order.
make_disk() {
  local out=$1 boot=$2 root=$3 data=$4
  need sfdisk fdisk
  local s=$((1024 * 1024 / 512)) start_boot size_boot start_root size_root start_data size_data
  start_boot=$((AVTECH_BOOT_OFFSET_MIB * s))
  size_boot=$(($(stat -c %s "$boot") / 512))
  start_root=$((start_boot + size_boot))
  size_root=$(($(stat -c %s "$root") / 512))
  start_data=$((start_root + size_root))
  size_data=$(($(stat -c %s "$data") / 512))
  rm -f "$out"
  truncate -s $(((start_data + size_data) * 512)) "$out"
  sfdisk --quiet --no-reread --no-tell-kernel "$out" <<SFDISK
label: dos
unit: sectors
start=$start_boot, size=$size_boot, type=c, bootable
start=$start_root, size=$size_root, type=83
start=$start_data, size=$size_data, type=83
SFDISK
  dd if="$boot" of="$out" bs=4M seek=$((start_boot * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
  dd if="$root" of="$out" bs=4M seek=$((start_root * 512)) oflag=seek_bytes conv=notrunc,sparse status=none
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

# assemble_image ROOTFS PARTS_DIR OUT_IMG: partition images (checked) and the disk image.
assemble_image() {
  local rootfs=$1 parts=$2 out=$3
  [[ -d $rootfs/etc ]] || die "no root file system at $rootfs: run the rootfs stage first"
  mkdir -p "$parts"
  local data_mount=/var/lib/avtech owner
  owner=$(owner_of "$rootfs" avtech)
  [[ -n $owner ]] || die "no avtech user in $rootfs/etc/passwd: the player role did not run"
  split_rootfs "$rootfs" "$parts/boot-tree" "$parts/data-tree" "$data_mount"
  local root_content root_mib
  root_content=$(mib_of_dir "$rootfs")
  root_mib=$(((root_content * (100 + AVTECH_ROOT_HEADROOM_PERCENT) / 100 + 64 + 3) / 4 * 4))
  log "assemble: boot $AVTECH_BOOT_MIB MiB, root $root_mib MiB ($root_content MiB used), data $AVTECH_DATA_MIB MiB"
  make_fat_partition "$parts/boot-tree" "$parts/boot.img" "$AVTECH_BOOT_MIB" BOOT
  make_ext4_partition "$rootfs" "$parts/root.img" "$root_mib" ROOT
  make_ext4_partition "$parts/data-tree" "$parts/data.img" "$AVTECH_DATA_MIB" DATA "$owner"
  log "assemble: checking the partitions (fsck.vfat -n, e2fsck -fn)"
  check_partitions "$parts/boot.img" "$parts/root.img" "$parts/data.img"
  make_disk "$out" "$parts/boot.img" "$parts/root.img" "$parts/data.img"
  log "assemble: $(basename "$out"), $(($(stat -c %s "$out") / 1048576)) MiB"
  sfdisk --dump "$out" | sed 's/^/  /'
}
