#!/usr/bin/env bash
# Builds the flashable AVTech Raspberry Pi image: image/out/avtech-<version>-<source>-<arch>.img.xz with its
# .bmap, .sha256 and a Raspberry Pi Imager repository entry. Run by `make image`; see image/README.md.
#
#   image/build.sh [stage...]      stages: base app rootfs assemble publish (default: all, in order), and
#                                  bundle (`make update-bundle`: a signed RAUC bundle of the assembled root)
#
# Settings (environment): AVTECH_PACKAGE_SOURCE=debian|raspios, AVTECH_ARCH (arm64), AVTECH_VERSION,
# AVTECH_XZ_LEVEL (6), AVTECH_OUT (image/out), AVTECH_WORK (image/work), AVTECH_NICE (10), and the per-source
# settings in image/config/<source>.env. No loop devices and no mounts: partitions are built from files.
set -euo pipefail

# Share the machine politely: the build is long and CPU-bound (qemu-user emulation, xz).
if [[ -z ${AVTECH_NICED:-} ]]; then
  export AVTECH_NICED=1
  exec nice -n "${AVTECH_NICE:-10}" "$0" "$@"
fi

AVTECH_IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/common.sh
source "$AVTECH_IMAGE_DIR/lib/common.sh"

: "${AVTECH_PACKAGE_SOURCE:=debian}"
: "${AVTECH_ARCH:=arm64}"
: "${AVTECH_OUT:=$AVTECH_IMAGE_DIR/out}"
: "${AVTECH_WORK:=$AVTECH_IMAGE_DIR/work}"
: "${AVTECH_XZ_LEVEL:=6}"
: "${AVTECH_NODE_VERSION:=24.21.0}"
: "${AVTECH_VERSION:=$(cd "$AVTECH_REPO_DIR" && git describe --tags --always --dirty 2>/dev/null || echo dev)}"
[[ -r $AVTECH_IMAGE_DIR/config/$AVTECH_PACKAGE_SOURCE.env ]] ||
  die "unknown AVTECH_PACKAGE_SOURCE '$AVTECH_PACKAGE_SOURCE': use debian or raspios"
# shellcheck source=/dev/null
source "$AVTECH_IMAGE_DIR/config/$AVTECH_PACKAGE_SOURCE.env"

for lib in base app rootfs boot assemble bundle publish; do
  # shellcheck source=/dev/null
  source "$AVTECH_IMAGE_DIR/lib/$lib.sh"
done

mkdir -p "$AVTECH_OUT" "$AVTECH_WORK"
NAME="avtech-$AVTECH_VERSION-$AVTECH_PACKAGE_SOURCE-$AVTECH_ARCH"
BASE_TAR=${AVTECH_BASE_TAR:-"$AVTECH_WORK/base-$AVTECH_PACKAGE_SOURCE-$AVTECH_ARCH-$(base_key).tar"}
ROOTFS="$AVTECH_WORK/rootfs"
PARTS="$AVTECH_WORK/parts"
IMG="$AVTECH_OUT/$NAME.img"

stage_base() {
  if [[ -s $BASE_TAR ]]; then
    log "base: cached $BASE_TAR"
  else
    # mmdebstrap picks its output format from the extension, so the partial file must end in .tar.
    build_base "${BASE_TAR%.tar}.partial.tar"
    mv "${BASE_TAR%.tar}.partial.tar" "$BASE_TAR"
  fi
}
stage_app() { build_app_archives "$AVTECH_WORK/app"; }
stage_rootfs() { build_rootfs "$BASE_TAR" "$ROOTFS" "$AVTECH_WORK/app"; }
stage_assemble() { assemble_image "$ROOTFS" "$PARTS" "$IMG"; }
stage_publish() { publish_image "$IMG" "$AVTECH_OUT"; }
stage_bundle() { bundle_stage "$PARTS" "$AVTECH_OUT"; }

main() {
  local stages=("$@")
  [[ ${#stages[@]} -gt 0 ]] || stages=(base app rootfs assemble publish)
  log "build $NAME: stages ${stages[*]}"
  for stage in "${stages[@]}"; do
    declare -F "stage_$stage" >/dev/null || die "unknown stage '$stage': use base app rootfs assemble publish bundle"
    log "== $stage"
    "stage_$stage"
  done
  log "done: $NAME"
}

main "$@" 2>&1 | tee -a "$AVTECH_OUT/build.log"
