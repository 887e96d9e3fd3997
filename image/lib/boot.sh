# The A/B boot chain, put together from files like the rest of the assembly (no mounts). The Pi firmware starts
# U-Boot (u-boot-rpi's rpi_arm64 u-boot.bin, `kernel=u-boot.bin` in config.txt); U-Boot's distro boot finds
# boot.scr on the boot partition; boot.scr (image/boot/boot.cmd) reads the boot state RAUC keeps in rauc.env
# there, picks root slot A (partition 2) or B (partition 3) and boots the kernel and initramfs of that slot's
# /boot. Under QEMU the same boot.scr runs from u-boot-qemu's qemu_arm64 u-boot.bin (-bios). See image/README.md.

# The boot state file: U-Boot's binary environment format (CRC32 + name=value strings) of this size. boot.cmd,
# the role's fw_env.config and this must agree.
AVTECH_BOOTENV_SIZE=0x4000
# disk_id_hex: the MBR disk identifier (AVTECH_DISK_ID, lib/assemble.sh) as PARTUUIDs spell it (8 lower-case hex
# digits, no 0x). The slots are found by PARTUUID (<disk id>-02, -03): boot.scr passes root=PARTUUID=… and
# /etc/rauc/system.conf names the slot devices by it, because a file system label travels with the image RAUC
# writes into the other slot.
disk_id_hex() {
  printf '%08x\n' "$((AVTECH_DISK_ID))"
}

# build_boot_script SRC OUT: compile a U-Boot hush script (boot.cmd) into a script image (boot.scr).
build_boot_script() {
  need mkimage u-boot-tools
  mkimage -A arm64 -O linux -T script -C none -n "AVTech A/B boot" -d "$1" "$2" >/dev/null
}

# make_boot_state OUT_DIR BOOT_ORDER A_LEFT B_LEFT: rauc.env and its copy rauc.env.bak in OUT_DIR.
make_boot_state() {
  local dir=$1 state
  need mkenvimage u-boot-tools
  state=$(mktemp)
  printf 'BOOT_ORDER=%s\nBOOT_A_LEFT=%s\nBOOT_B_LEFT=%s\n' "$2" "$3" "$4" >"$state"
  mkenvimage -s "$AVTECH_BOOTENV_SIZE" -o "$dir/rauc.env" "$state"
  cp "$dir/rauc.env" "$dir/rauc.env.bak"
  rm -f "$state"
}

# link_slot_kernel ROOTFS: /boot/vmlinuz and /boot/initrd.img in the root tree, links to its newest kernel and
# initramfs: the names boot.scr loads from whichever slot it boots.
link_slot_kernel() {
  local rootfs=$1 kernel version
  kernel=$(find "$rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sort -V | tail -1)
  [[ -n $kernel ]] || die "no kernel in $rootfs/boot"
  version=${kernel#vmlinuz-}
  [[ -e $rootfs/boot/initrd.img-$version ]] || die "no initramfs for kernel $version in $rootfs/boot"
  ln -sfn "vmlinuz-$version" "$rootfs/boot/vmlinuz"
  ln -sfn "initrd.img-$version" "$rootfs/boot/initrd.img"
}

# install_boot_chain BOOT_TREE ROOTFS: turn the boot partition's tree (what raspi-firmware made) into the A/B
# boot chain: U-Boot from the root tree's u-boot-rpi as the firmware's kernel, boot.scr, the initial boot state
# (slot A with 3 tries; slot B is empty, so it is not in BOOT_ORDER), and no kernel or initramfs of its own
# (they live in the slots). cmdline.txt stays (the firmware passes it on and boot.scr appends root= and
# rauc.slot=), without its root= and rw.
install_boot_chain() {
  local boot=$1 rootfs=$2 uboot
  uboot="$rootfs/usr/lib/u-boot/rpi_arm64/u-boot.bin"
  [[ -s $uboot ]] || die "no $uboot in the root file system: is u-boot-rpi in AVTECH_BOOTLOADER_PACKAGES?"
  [[ -s $boot/config.txt ]] || die "no config.txt in $boot: raspi-firmware did not run"
  install -m 0644 "$uboot" "$boot/u-boot.bin"
  # raspi-firmware writes `kernel=vmlinuz-<version>` and an `initramfs` line (with a comment above it).
  sed -i -e 's/^kernel=.*/kernel=u-boot.bin/' -e '/^# For details on the initramfs directive/,/^initramfs /d' \
    "$boot/config.txt"
  grep -qx 'kernel=u-boot.bin' "$boot/config.txt" || die "config.txt in $boot has no kernel= line to point at U-Boot"
  if [[ -e $boot/cmdline.txt ]]; then
    sed -i -E -e 's/(^| )root=[^ ]*//g' -e 's/(^| )rw( |$)/\1\2/g' -e 's/  +/ /g' -e 's/^ //' "$boot/cmdline.txt"
  fi
  rm -f "$boot"/vmlinuz-* "$boot"/initrd.img-*
  build_boot_script "$AVTECH_IMAGE_DIR/boot/boot.cmd" "$boot/boot.scr"
  make_boot_state "$boot" A 3 0
}
