SUMMARY = "AVTech signage screen for Raspberry Pi 4/5 (read-only root, player on DRM/KMS)"
LICENSE = "MIT"

inherit core-image

IMAGE_FEATURES += "read-only-rootfs"
IMAGE_INSTALL:append = " avtech-player kernel-modules linux-firmware-rpidistro-bcm43455 wireless-regdb-static \
                         tzdata systemd-conf"

# Partitions as in the Debian image: FAT BOOT (firmware, kernel, avtech.toml), ext4 ROOT_A and ROOT_B (empty: no A/B
# updates in this layer yet, see README.md), ext4 DATA.
WKS_FILE = "avtech-sdimage.wks"
IMAGE_FSTYPES = "wic.xz wic.bmap"

# The site files on the boot partition (filled in later with the provisioning CLI).
IMAGE_BOOT_FILES:append = " avtech.toml avtech-system.toml"
do_image_wic[depends] += "avtech-boot-files:do_deploy"

# Kiosk: screen blanking off, no login prompt on the screen, hardware watchdog on.
CMDLINE:append = " consoleblank=0 vt.global_cursor_default=0 quiet"
RPI_EXTRA_CONFIG = "dtparam=watchdog=on\ndisable_splash=1"
SYSTEMD_DEFAULT_TARGET = "multi-user.target"
ROOTFS_POSTPROCESS_COMMAND += "avtech_mask_getty; "
avtech_mask_getty() {
    ln -sf /dev/null ${IMAGE_ROOTFS}${sysconfdir}/systemd/system/getty@tty1.service
    : > ${IMAGE_ROOTFS}${sysconfdir}/machine-id
    rm -f ${IMAGE_ROOTFS}${sysconfdir}/ssh/ssh_host_*
}
