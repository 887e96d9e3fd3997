#!/usr/bin/env bash
# Makes the two tarballs the `control_plane` role installs, from this checkout:
#   ansible/package-control-plane.sh [x64|arm64] [OUT_DIR]
#     → OUT_DIR (default ansible/dist)/control-plane.tar.gz, node-<version>-<arch>.tar.gz
# Build the console first (`make build`) so its dist/ is included.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case ${1:-x64} in
x64) export AVTECH_ARCH=amd64 ;;
arm64) export AVTECH_ARCH=arm64 ;;
*) echo "usage: $0 [x64|arm64] [OUT_DIR]" >&2; exit 2 ;;
esac
: "${AVTECH_NODE_VERSION:=24.21.0}"
export AVTECH_NODE_VERSION
# shellcheck source=../image/lib/common.sh
source "$here/../image/lib/common.sh"
# shellcheck source=../image/lib/app.sh
source "$here/../image/lib/app.sh"
out=${2:-$here/dist}
mkdir -p "$out"
build_node_archive "$out"
build_app_archive "$out/control-plane.tar.gz" control-plane proto proto/io
ls -l "$out"
