#!/usr/bin/env bash
# `make test-fresh`: the README's two commands on a clean Debian 12, run exactly as a new user runs them. A cached
# Debian 12 root (mmdebstrap, the packages of a Debian server install plus git and make) is booted as a
# systemd-nspawn container sharing the host's network; the repository's HEAD is cloned to /root/avtech (root's
# home is 0700, the most common place a new user clones to); then `make test` must pass, and `make demo` must
# print the console URL and get its real player claimed and playing; it is stopped with SIGINT, as Ctrl-C would,
# and nothing it started may be left running. Prints the time each command took.
#
# What a user's machine would have besides Debian is carried into the container from this host: Node as the
# system has it (found on the PATH without this repository's toolchain; the stated machine has Node 20), local CA
# certificates (/usr/local/share/ca-certificates: a proxy's, here), npm's user and global config, and the proxy
# variables and NODE_EXTRA_CA_CERTS of this environment. Nothing else of the host's environment goes in.
#
# Needs root (systemd-nspawn) and the packages mmdebstrap, systemd-container and git. The root file system is
# cached in AVTECH_FRESH_CACHE (default /var/cache/avtech/test-fresh) and rebuilt when its package list changes.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../image/lib/common.sh
source "$repo/image/lib/common.sh"
# shellcheck source=../image/lib/nspawn.sh
source "$repo/image/lib/nspawn.sh"
need mmdebstrap mmdebstrap
need systemd-nspawn systemd-container
need nsenter util-linux
need git git
[[ $EUID -eq 0 ]] || die "needs root (systemd-nspawn)"
cache=${AVTECH_FRESH_CACHE:-/var/cache/avtech/test-fresh}
demo_timeout=${AVTECH_FRESH_DEMO_TIMEOUT:-1200}
system_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

commit=$(git -C "$repo" rev-parse --short HEAD)
if [[ -n $(git -C "$repo" status --porcelain --untracked-files=no) ]]; then
  log "note: uncommitted changes are not part of this check: the container clones HEAD ($commit)"
fi

# The root file system: a Debian 12 server as installed (priority "important"), plus what cloning and running
# the README's commands takes. No Node, no mpv, ffmpeg, chromium, mmdebstrap or anything else of ours.
mirrors=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)
packages=git,make,ca-certificates,dbus,systemd-sysv
key=$(printf '%s\n' "$packages" "${mirrors[@]}" | sha256sum | cut -c1-12)
tarball=$cache/debian-bookworm-$key.tar
if [[ -s $tarball ]]; then
  log "reusing the cached Debian 12 root $tarball"
else
  log "building a clean Debian 12 root with mmdebstrap (cached in $cache)"
  mkdir -p "$cache"
  # mmdebstrap picks its output format from the extension, so the partial file must end in .tar.
  mmdebstrap --variant=important --include="$packages" bookworm "$tarball.partial.tar" "${mirrors[@]}" ||
    die "mmdebstrap failed"
  mv "$tarball.partial.tar" "$tarball"
fi

machine=avtech-fresh-$$
work=$(mktemp -d "${TMPDIR:-/var/tmp}/avtech-test-fresh.XXXXXX")
rootfs=$work/root
demo_pid=""
cleanup() {
  [[ -n $demo_pid ]] && kill -KILL -- "-$demo_pid" 2>/dev/null
  stop_container
  rm -rf "$work"
}
trap cleanup EXIT

log "unpacking the root file system"
mkdir -p "$rootfs"
tar -C "$rootfs" --numeric-owner -xf "$tarball"

system_node=$(PATH=$system_path command -v node || true)
if [[ -n $system_node ]]; then
  npm_dir=$(cd "$(dirname "$(readlink -f "$(PATH=$system_path command -v npm)")")/.." && pwd)
  log "carrying the system's Node $("$system_node" -v) and npm $(PATH=$system_path npm -v 2>/dev/null) into the container"
  install -D -m 0755 "$system_node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
fi
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
fi
for npmrc in /root/.npmrc /etc/npmrc "$(PATH=$system_path npm config get globalconfig 2>/dev/null || true)"; do
  [[ -f $npmrc ]] && install -D -m 0644 "$npmrc" "$rootfs/$npmrc"
done
# The npm the container runs has its prefix in /usr/local, so its global config is read there.
[[ -f $rootfs/usr/etc/npmrc && ! -f $rootfs/usr/local/etc/npmrc ]] &&
  install -D -m 0644 "$rootfs/usr/etc/npmrc" "$rootfs/usr/local/etc/npmrc"
# The host's environment for reaching the registries (a proxy, its CA for Node) is the machine's, not ours.
machine_env=()
for name in NODE_EXTRA_CA_CERTS http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [[ -n ${!name:-} ]] && machine_env+=("$name=${!name}")
done

# A Debian machine has loop devices, and the player's RAUC tests mount bundles through them (rauc install);
# systemd-nspawn gives a container none of its own, so the host's are passed in.
loop_devices=()
for device in /dev/loop-control /dev/loop[0-9]*; do
  [[ -e $device ]] && loop_devices+=("--bind=$device")
done
boot_container "$rootfs" "$machine" "$work/boot.log" --bind-ro="$repo:/mnt/avtech-origin" "${loop_devices[@]}" \
  --property=DeviceAllow="/dev/loop-control rwm" --property=DeviceAllow="block-loop rwm"
in_container update-ca-certificates >/dev/null

# as_user_in_container SCRIPT: a login shell of root in the container with nothing of this host's environment.
as_user_in_container() {
  in_container env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb PATH="$system_path" \
    "${machine_env[@]}" bash -lc "$1"
}
as_user_in_container "git clone -q /mnt/avtech-origin /root/avtech && git -C /root/avtech log -1 --format='cloned %h %s'"

log "make test (in /root/avtech, as written in the README)"
start=$SECONDS
as_user_in_container "cd /root/avtech && make test" 2>&1 | tee "$work/make-test.log" | sed -u 's/^/  | /' ||
  die "make test failed on a fresh Debian 12 after $((SECONDS - start)) s (transcript above)"
test_seconds=$((SECONDS - start))
log "make test passed in $test_seconds s"

log "make demo (in /root/avtech, as written in the README), until the console URL is printed and the player plays"
start=$SECONDS
# Its own process group, so SIGINT reaches make and everything under it, as Ctrl-C in a terminal would.
setsid nsenter --ipc --mount --net --pid --uts --target="$container_leader" -- \
  env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb PATH="$system_path" "${machine_env[@]}" \
  bash -lc "cd /root/avtech && exec make demo" >"$work/make-demo.log" 2>&1 &
demo_pid=$!
tail -n +1 -f "$work/make-demo.log" --pid="$demo_pid" | sed -u 's/^/  | /' &
tail_pid=$!
ready=""
while ((SECONDS - start < demo_timeout)); do
  if grep -q '^\[demo\] console: *http://' "$work/make-demo.log" &&
    grep -q '^\[demo\] the real player is playing' "$work/make-demo.log"; then
    ready=yes
    break
  fi
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 2
done
[[ -n $ready ]] || die "make demo did not print the console URL with its player playing within $((SECONDS - start)) s"
demo_seconds=$((SECONDS - start))
grep -q '^\[demo\] the player shows pairing code' "$work/make-demo.log" ||
  die "make demo did not pair its player by code on a fresh clone"
log "make demo ready in $demo_seconds s: console URL printed, player claimed and playing"

log "stopping make demo with SIGINT"
kill -INT -- "-$demo_pid"
stopped=""
for _ in $(seq 120); do
  if ! kill -0 "$demo_pid" 2>/dev/null; then
    stopped=yes
    break
  fi
  sleep 0.5
done
wait "$tail_pid" 2>/dev/null || true
[[ -n $stopped ]] || die "make demo was still running 60 s after SIGINT"
demo_pid=""
leftovers=$(in_container bash -c \
  'for p in /proc/[0-9]*; do c=$(cat "$p/comm" 2>/dev/null) || continue; case $c in node|postgres|mpv|chromium|ffmpeg|make) echo "${p#/proc/} $c";; esac; done')
[[ -z $leftovers ]] || die "make demo left processes running after SIGINT: $leftovers"
log "make demo stopped; nothing of it is left running"

log "fresh Debian 12, clone of $commit in /root/avtech: make test $test_seconds s, make demo ready in $demo_seconds s"
