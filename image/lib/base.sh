# Stage "base": the Debian (or Raspberry Pi OS) root file system as a tarball, built by mmdebstrap under
# qemu-user emulation. This is the slow stage (~15 min for arm64 on 2 cores), so its output is cached under
# $AVTECH_WORK keyed by everything that goes into it.

# base_packages: the packages of the base root file system, comma separated for mmdebstrap.
base_packages() {
  local list=(
    systemd-sysv udev dbus kmod iproute2 iputils-ping procps less tzdata ca-certificates
    systemd-timesyncd systemd-resolved wpasupplicant openssh-server
    initramfs-tools zstd cloud-guest-utils fdisk e2fsprogs dosfstools
    python3 python3-apt
    $AVTECH_KERNEL_PACKAGES $AVTECH_FIRMWARE_PACKAGES $AVTECH_BOOTLOADER_PACKAGES $AVTECH_MEDIA_PACKAGES
  )
  local IFS=,
  echo "${list[*]}"
}

# base_sources: apt source lines for the selected package source.
base_sources() {
  echo "deb $AVTECH_MIRROR $AVTECH_SUITE $AVTECH_COMPONENTS"
  echo "deb $AVTECH_MIRROR $AVTECH_SUITE-updates $AVTECH_COMPONENTS"
  echo "deb $AVTECH_SECURITY_MIRROR $AVTECH_SUITE-security $AVTECH_COMPONENTS"
  if [[ $AVTECH_PACKAGE_SOURCE == raspios ]]; then
    echo "deb [signed-by=$AVTECH_RASPIOS_KEYRING] $AVTECH_RASPIOS_MIRROR $AVTECH_SUITE main"
  fi
}

# base_key: a hash of every input of the base stage, so a changed recipe rebuilds it.
base_key() {
  {
    echo "$AVTECH_ARCH $AVTECH_PACKAGE_SOURCE"
    base_packages
    base_sources
    find "$AVTECH_IMAGE_DIR/base" -type f -print0 | sort -z | xargs -0 sha256sum | sed "s#$AVTECH_IMAGE_DIR/##"
    sha256sum "$AVTECH_IMAGE_DIR/lib/base.sh" | cut -d' ' -f1
  } | sha256sum | cut -c1-16
}

# check_raspios_reachable: the raspios source needs Raspberry Pi's archive (or a local snapshot) and its key.
check_raspios_reachable() {
  [[ -r $AVTECH_RASPIOS_KEYRING ]] ||
    die "package source raspios needs Raspberry Pi's archive key at $AVTECH_RASPIOS_KEYRING (set AVTECH_RASPIOS_KEYRING)"
  local release_url="$AVTECH_RASPIOS_MIRROR/dists/$AVTECH_SUITE/Release"
  if [[ $release_url == file://* ]]; then
    [[ -r ${release_url#file://} ]] || die "no apt repository at $AVTECH_RASPIOS_MIRROR (missing ${release_url#file://})"
  elif need curl curl && ! curl -fsS --max-time 20 -o /dev/null "$release_url"; then
    die "Raspberry Pi's archive is not reachable at $AVTECH_RASPIOS_MIRROR: build where it is, or set AVTECH_RASPIOS_MIRROR to a local snapshot of its .debs (see image/README.md)"
  fi
}

# build_base OUT_TAR: run mmdebstrap and write the root file system tarball.
build_base() {
  local out=$1
  # Settings first, tools second: a wrong setting is reported even where the tools are not installed yet.
  [[ $AVTECH_PACKAGE_SOURCE == raspios ]] && check_raspios_reachable
  need mmdebstrap mmdebstrap
  if [[ $AVTECH_ARCH != "$(dpkg --print-architecture)" ]]; then
    need arch-test arch-test
    arch-test "$AVTECH_ARCH" >/dev/null ||
      die "this machine cannot run $AVTECH_ARCH programs: apt-get install qemu-user-static binfmt-support, then (as root) mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && update-binfmts --enable qemu-aarch64"
  fi
  local sources=()
  while IFS= read -r line; do sources+=("$line"); done < <(base_sources)
  log "base: mmdebstrap $AVTECH_SUITE/$AVTECH_ARCH from $AVTECH_PACKAGE_SOURCE packages (the slow stage)"
  # update-initramfs is diverted while packages install, then run once at the end: under emulation one
  # mkinitramfs takes minutes and package triggers would otherwise run it several times.
  mmdebstrap \
    --mode="${AVTECH_MMDEBSTRAP_MODE:-auto}" \
    --arch="$AVTECH_ARCH" \
    --variant=minbase \
    --keyring="$AVTECH_KEYRING" \
    --aptopt='Apt::Install-Recommends "false"' \
    --dpkgopt='force-confold' \
    --dpkgopt='force-confdef' \
    --include="$(base_packages)" \
    --setup-hook="cp -a '$AVTECH_IMAGE_DIR/base/.' \"\$1/\"" \
    --essential-hook='chroot "$1" dpkg-divert --local --rename --add /usr/sbin/update-initramfs' \
    --essential-hook='printf "#!/bin/sh\necho \"update-initramfs: deferred to the end of the image build\"\n" > "$1/usr/sbin/update-initramfs" && chmod 755 "$1/usr/sbin/update-initramfs"' \
    --customize-hook='rm "$1/usr/sbin/update-initramfs" && chroot "$1" dpkg-divert --local --rename --remove /usr/sbin/update-initramfs' \
    --customize-hook='for k in "$1"/lib/modules/*; do chroot "$1" update-initramfs -c -k "$(basename "$k")"; done' \
    --customize-hook='ls -l "$1/boot/firmware" && test -e "$1/boot/firmware/initrd.img" -o -n "$(ls "$1"/boot/firmware/initrd.img* 2>/dev/null)"' \
    "$AVTECH_SUITE" "$out" "${sources[@]}"
}
