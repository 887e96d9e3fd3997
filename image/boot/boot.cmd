# AVTech boot script (U-Boot hush shell). The image recipe compiles it into boot.scr on the boot partition
# (image/lib/boot.sh: mkimage -T script); U-Boot's distro boot finds it there, on a Raspberry Pi (u-boot-rpi,
# rpi_arm64, started by the Pi firmware as its "kernel") and under QEMU (u-boot-qemu, qemu_arm64, -bios) alike.
#
# It picks the root slot the way RAUC's U-Boot backend expects (bootloader=uboot in /etc/rauc/system.conf):
# BOOT_ORDER lists the slots to try, first first ("A B"); BOOT_<slot>_LEFT counts the tries a slot has left. Each
# boot spends one try of the slot it picks and writes that down before starting the kernel; `rauc status
# mark-good` on the running system gives the tries back; `rauc install` puts the new slot first with 3 tries. A
# slot whose system never confirms is tried 3 times and then skipped, so the board falls back to the other slot.
# When no slot has a try left, both get 3 again and the board resets.
#
# The three variables live in a file on this FAT partition, rauc.env (U-Boot's binary environment format: CRC32
# and name=value strings, 16 KiB), and its copy rauc.env.bak, not in U-Boot's own environment: the Pi keeps that
# in uboot.env only when booted from the SD card, and QEMU's in a flash the Linux kernel cannot write, so one
# store on the boot partition behaves the same on both. Linux reads and writes it with libubootenv's
# fw_printenv/fw_setenv (/etc/fw_env.config), through /usr/local/sbin/fw_setenv, which remounts /boot/firmware
# for the write and keeps the copy. Both writers write rauc.env first and the copy second, so when a write is cut
# short at most one of the two is torn, and a readable rauc.env is always the newer one.

setenv avtech_env_size 0x4000
setenv avtech_boot "${devtype} ${devnum}:${distro_bootpart}"

# Only these three variables are taken from the files, whatever else they hold.
setenv BOOT_ORDER
setenv BOOT_A_LEFT
setenv BOOT_B_LEFT
if load ${avtech_boot} ${kernel_addr_r} rauc.env && env import -c ${kernel_addr_r} ${avtech_env_size} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT; then
  echo "AVTech: boot state from rauc.env"
elif load ${avtech_boot} ${kernel_addr_r} rauc.env.bak && env import -c ${kernel_addr_r} ${avtech_env_size} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT; then
  echo "AVTech: rauc.env is unreadable, boot state from rauc.env.bak"
else
  echo "AVTech: no readable boot state, using the defaults"
fi
test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3
echo "AVTech: BOOT_ORDER=${BOOT_ORDER} BOOT_A_LEFT=${BOOT_A_LEFT} BOOT_B_LEFT=${BOOT_B_LEFT}"

# The first slot in BOOT_ORDER with a try left; slot A is partition 2, slot B partition 3.
setenv avtech_slot
setenv avtech_rootpart
for BOOT_SLOT in "${BOOT_ORDER}"; do
  if test -n "${avtech_slot}"; then
    # a slot is picked: the others wait
  elif test "x${BOOT_SLOT}" = "xA"; then
    if test ${BOOT_A_LEFT} -gt 0; then
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      setenv avtech_slot A
      setenv avtech_rootpart 2
    fi
  elif test "x${BOOT_SLOT}" = "xB"; then
    if test ${BOOT_B_LEFT} -gt 0; then
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      setenv avtech_slot B
      setenv avtech_rootpart 3
    fi
  fi
done

if test -z "${avtech_slot}"; then
  echo "AVTech: no slot has a try left: 3 tries each again, resetting"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
fi

# Write the spent try down before anything can fail: a kernel that does not load or hangs must cost its try.
env export -c -s ${avtech_env_size} ${kernel_addr_r} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fatwrite ${avtech_boot} ${kernel_addr_r} rauc.env ${avtech_env_size}
fatwrite ${avtech_boot} ${kernel_addr_r} rauc.env.bak ${avtech_env_size}

if test -z "${avtech_slot}"; then
  reset
fi
echo "AVTech: booting slot ${avtech_slot} (partition ${avtech_rootpart}), tries left A=${BOOT_A_LEFT} B=${BOOT_B_LEFT}"

# Kernel command line: on a Pi, the firmware's (cmdline.txt and what the firmware adds, from the device tree it
# passes on); under QEMU there is none and the kernel takes its console from the device tree (stdout-path). The
# root file system is the slot's partition by PARTUUID: its file system label travels with the image RAUC
# writes, the partition's id does not.
setenv avtech_cmdline
if fdt addr ${fdt_addr}; then
  fdt get value avtech_cmdline /chosen bootargs
fi
part uuid ${devtype} ${devnum}:${avtech_rootpart} avtech_rootuuid
setenv bootargs "${avtech_cmdline} root=PARTUUID=${avtech_rootuuid} rootwait ro rauc.slot=${avtech_slot}"

# Kernel and initramfs from the slot itself, so an update bundle brings its own kernel. /boot/vmlinuz and
# /boot/initrd.img are links to the slot's current kernel (made by the image recipe).
if load ${devtype} ${devnum}:${avtech_rootpart} ${kernel_addr_r} /boot/vmlinuz && load ${devtype} ${devnum}:${avtech_rootpart} ${ramdisk_addr_r} /boot/initrd.img; then
  booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr}
fi
echo "AVTech: slot ${avtech_slot} did not boot; resetting to try again"
reset
