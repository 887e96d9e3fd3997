#!/usr/bin/env bash
# Idempotence check of the `player` role: applies the image playbook twice to a fresh Debian root file system
# (a tarball made by mmdebstrap/debootstrap) through the chroot connection and fails unless the second run
# reports no changes.
#
#   ansible/check-idempotence.sh ROOTFS_TAR APP_DIR ARCH
#
# APP_DIR holds the archives made by `AVTECH_ARCH=ARCH image/build.sh app`. Needs root (chroot).
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 ROOTFS_TAR APP_DIR ARCH" >&2; exit 2; }
tarball=$(realpath "$1") app=$(realpath "$2")
export AVTECH_ARCH=$3
: "${AVTECH_VERSION:=idempotence-check}"
: "${AVTECH_NODE_VERSION:=24.21.0}"
: "${AVTECH_PACKAGE_SOURCE:=debian}"
export AVTECH_VERSION AVTECH_NODE_VERSION AVTECH_PACKAGE_SOURCE
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../image/lib/common.sh
source "$here/../image/lib/common.sh"
# shellcheck source=../image/lib/rootfs.sh
source "$here/../image/lib/rootfs.sh"
# shellcheck source=../image/lib/boot.sh
source "$here/../image/lib/boot.sh"
# shellcheck source=../image/lib/bundle.sh
source "$here/../image/lib/bundle.sh"

rootfs=$(mktemp -d "${TMPDIR:-/tmp}/avtech-idempotence.XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
tar -C "$rootfs" --numeric-owner -xf "$tarball"
# The boot partition's mount point, as on a Raspberry Pi (the role writes the site files there).
mkdir -p "$rootfs/boot/firmware"

log "first run"
apply_player_role "$rootfs" "$app" -e avtech_player_apt_update=true || die "the first run failed"
log "second run (must change nothing)"
second=$(apply_player_role "$rootfs" "$app" -e avtech_player_apt_update=true) || die "the second run failed: $second"
echo "$second"
recap=$(echo "$second" | grep -E '^\S+ +: ok=' || true)
[[ -n $recap ]] || die "no play recap in the second run"
if ! echo "$recap" | grep -qE 'changed=0 .*failed=0'; then
  die "the second run changed something: $recap"
fi
log "idempotent: $recap"
