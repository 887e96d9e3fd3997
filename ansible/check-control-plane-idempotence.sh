#!/usr/bin/env bash
# Idempotence check of the `control_plane` role against a booted Debian 12: boots a fresh Debian root file system
# (a tarball made by mmdebstrap/debootstrap, with systemd-sysv, dbus and python3) as a systemd-nspawn container,
# applies playbooks/control_plane.yml twice through the community.docker.nsenter connection, fails unless the
# first run succeeds and the second reports changed=0 failed=0, then asks the running service for /healthz and
# /readyz (database reachable) from inside the container's network namespace, runs avtech-cp-backup.service,
# avtech-cp-admin and avtech-cp-restore of that backup, and asks /readyz again.
#
#   ansible/check-control-plane-idempotence.sh ROOTFS_TAR DIST_DIR [cluster]
#
# With `cluster` the role is applied with 3 replicas behind HAProxy (avtech_cp_replicas=3, avtech_cp_balancer=true,
# the file store: one host), twice; then /readyz must answer 200 through HAProxy's front (h2c and HTTP/1.1) and on
# every replica's own ports, and the replicas must trust the balancer's address. Then the role is applied with the defaults again (one process, no
# balancer), which must leave only avtech-control-plane.service running (no replica, HAProxy stopped) and answering
# /readyz on the front port, and a further run must change nothing. The cluster case runs the backup and the admin
# CLI but no restore (the single case checks it). The replicas' ports (8100-8105) must be free too.
#
# DIST_DIR holds the archives made by `ansible/package-control-plane.sh x64 DIST_DIR`. Needs root, and the
# packages systemd-container (systemd-nspawn), util-linux (nsenter), curl and iproute2 (ss).
#
# The container shares the host's network (the role installs packages from Debian's mirror), so PostgreSQL's 5432
# and the control plane's ports (AVTECH_CP_PORT, default 8443, and 8081 for HTTP/1.1) must be free on the host:
# the check refuses to start otherwise.
set -euo pipefail
[[ $# -eq 2 || ($# -eq 3 && $3 == cluster) ]] || { echo "usage: $0 ROOTFS_TAR DIST_DIR [cluster]" >&2; exit 2; }
tarball=$(realpath "$1") dist=$(realpath "$2") mode=${3:-single}
: "${AVTECH_NODE_VERSION:=24.21.0}"
: "${AVTECH_CP_PORT:=8443}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../image/lib/common.sh
source "$here/../image/lib/common.sh"
# shellcheck source=../image/lib/nspawn.sh
source "$here/../image/lib/nspawn.sh"
need systemd-nspawn systemd-container
need nsenter util-linux
need curl curl
need ss iproute2
need ansible-playbook ansible
[[ $EUID -eq 0 ]] || die "needs root (systemd-nspawn)"
app_archive=$dist/control-plane.tar.gz node_archive=$dist/node-$AVTECH_NODE_VERSION-amd64.tar.gz
[[ -s $app_archive && -s $node_archive ]] ||
  die "no archives in $dist: run ansible/package-control-plane.sh x64 $dist"
ports=(5432 "$AVTECH_CP_PORT" 8081)
[[ $mode == cluster ]] && ports+=(8100 8101 8102 8103 8104 8105)
for port in "${ports[@]}"; do
  if ss -Htln "sport = :$port" | grep -q .; then
    die "port $port is in use on this host; the container shares the host's network: free it first"
  fi
done

machine=avtech-cp-check-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/avtech-cp-idempotence.XXXXXX")
rootfs=$work/root
cleanup() {
  stop_container
  rm -rf "$work"
}
trap cleanup EXIT

log "unpacking $(basename "$tarball")"
mkdir -p "$rootfs"
tar -C "$rootfs" --numeric-owner -xf "$tarball"
boot_container "$rootfs" "$machine" "$work/boot.log"
leader=$container_leader
# A real host has its package lists; mmdebstrap removed them, and the role's cache_valid_time would then skip
# the update and find no postgresql package.
in_container apt-get update -qq || die "apt-get update failed inside the container"

cat >"$work/hosts.ini" <<EOF
[control_plane]
$machine ansible_connection=community.docker.nsenter ansible_nsenter_pid=$leader ansible_python_interpreter=/usr/bin/python3 ansible_become_method=su
EOF
apply_control_plane_role() {
  ANSIBLE_CONFIG="$here/ansible.cfg" ansible-playbook -i "$work/hosts.ini" \
    -e "avtech_cp_app_archive=$app_archive" \
    -e "avtech_cp_node_archive=$node_archive" \
    -e "avtech_cp_node_version=$AVTECH_NODE_VERSION" \
    -e "avtech_cp_port=$AVTECH_CP_PORT" \
    -e avtech_cp_version=idempotence-check \
    -e avtech_cp_db_password=idempotence-check-password \
    -e avtech_cp_tls_terminated_upstream=true \
    "$@" \
    "$here/playbooks/control_plane.yml"
}
# The cluster's settings (mode cluster): 3 replicas on 8100-8105 behind HAProxy on the front port.
cluster_vars=()
[[ $mode == cluster ]] && cluster_vars=(-e avtech_cp_replicas=3 -e avtech_cp_balancer=true)
recap_of() { grep -E '^\S+ +: ok=' <<<"$1" || true; }

log "first run"
start=$SECONDS
first=$(apply_control_plane_role "${cluster_vars[@]}" 2>&1) || die "the first run failed: $first"
log "first run: $((SECONDS - start)) s: $(recap_of "$first")"
log "second run (must change nothing)"
start=$SECONDS
second=$(apply_control_plane_role "${cluster_vars[@]}" 2>&1) || die "the second run failed: $second"
echo "$second"
recap=$(recap_of "$second")
[[ -n $recap ]] || die "no play recap in the second run"
echo "$recap" | grep -qE 'changed=0 .*failed=0' || die "the second run changed something: $recap"
log "second run: $((SECONDS - start)) s"
log "idempotent: $recap"

# probe PATH [PORT [CURL_ARG...]]: the HTTP status of PATH on PORT (default the front, h2c), from the container's
# network namespace.
probe() {
  local path=$1 port=${2:-$AVTECH_CP_PORT}
  shift 2 || shift $#
  [[ $# -gt 0 ]] || set -- --http2-prior-knowledge
  nsenter --net --target="$leader" -- curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" \
    "http://127.0.0.1:$port$path" || true
}
# await_200 LABEL PATH [PORT [CURL_ARG...]]: waits up to 30 s for PATH to answer 200, logs "LABEL: 200" or dies.
await_200() {
  local label=$1 code=000
  shift
  for _ in $(seq 30); do
    code=$(probe "$@")
    [[ $code == 200 ]] && break
    sleep 1
  done
  if [[ $code != 200 ]]; then
    in_container systemctl --no-pager status 'avtech-control-plane*' haproxy.service >&2 || true
    die "$label answered $code"
  fi
  log "$label: $code"
}
await_200 /healthz /healthz
await_200 /readyz /readyz
units=(avtech-control-plane.service)
if [[ $mode == cluster ]]; then
  units=(avtech-control-plane@1.service avtech-control-plane@2.service avtech-control-plane@3.service haproxy.service)
  # The front speaks HTTP/1.1 too (browsers, the console); each replica answers on its own h2c and HTTP/1.1 ports.
  await_200 "front /readyz over HTTP/1.1" /readyz "$AVTECH_CP_PORT" --http1.1
  for n in 1 2 3; do
    port=$((8100 + 2 * (n - 1)))
    await_200 "replica $n /readyz on $port (h2c)" /readyz "$port"
    await_200 "replica $n /readyz on $((port + 1)) (HTTP/1.1)" /readyz "$((port + 1))" --http1.1
  done
  trusted=$(in_container grep '^AVTECH_TRUSTED_PROXIES=' /etc/avtech/control-plane.env) ||
    die "the replicas' environment names no trusted proxy"
  log "replicas trust: $trusted"
  servers=$(in_container grep -c '^  server ' /etc/haproxy/haproxy.cfg) || die "no server lines in haproxy.cfg"
  log "haproxy.cfg servers: $servers"
  connections=$(in_container runuser -u postgres -- psql -Atc 'SHOW max_connections') || die "cannot ask PostgreSQL"
  log "PostgreSQL max_connections: $connections"
fi
active=$(in_container systemctl is-active "${units[@]}" postgresql.service avtech-cp-backup.timer | tr '\n' ' ')
log "units: $active"
[[ $active != *inactive* && $active != *failed* ]] || die "a unit is not active: ${units[*]}: $active"

# The backup as its timer runs it (the unit, as root), the admin CLI wrapper against the installed service, and a
# restore of that backup through the real systemctl, after which the service must answer /readyz again.
in_container systemctl start avtech-cp-backup.service || {
  in_container journalctl -u avtech-cp-backup.service --no-pager >&2 || true
  die "avtech-cp-backup.service failed"
}
set_dir=$(in_container sh -c 'ls -1d /var/backups/avtech/2*Z | tail -n 1')
in_container test -s "$set_dir/avtech.dump" || die "the backup made no dump in $set_dir"
log "backup: $set_dir"
tenants=$(in_container /usr/local/sbin/avtech-cp-admin tenants 2>&1) || die "avtech-cp-admin tenants failed: $tenants"
log "avtech-cp-admin tenants: $(head -n 1 <<<"$tenants")"
if [[ $mode == single ]]; then
  restored=$(in_container /usr/local/sbin/avtech-cp-restore "$set_dir" 2>&1) || die "avtech-cp-restore failed: $restored"
  log "restore: $(tail -n 1 <<<"$restored")"
  await_200 "/readyz after the restore" /readyz
  exit 0
fi
# The cluster case leaves the restore to the single case: what differs here is only the list of units it stops
# and starts, and a restore failing for its own reasons would hide the checks below.

# Back to the defaults: one process, no balancer. Nothing of the cluster may keep running.
log "back to one control plane (the role's defaults)"
start=$SECONDS
third=$(apply_control_plane_role 2>&1) || die "the run back to one process failed: $third"
log "back to one: $((SECONDS - start)) s: $(recap_of "$third")"
running=$(in_container systemctl list-units --plain --no-legend --state=active 'avtech-control-plane*' 'haproxy*' |
  awk '{print $1}' | tr '\n' ' ')
log "active after going back to one: $running"
[[ $running == "avtech-control-plane.service " ]] || die "expected only avtech-control-plane.service, found: $running"
await_200 "one process /readyz" /readyz
fourth=$(apply_control_plane_role 2>&1) || die "the second run with one process failed: $fourth"
recap=$(recap_of "$fourth")
echo "$recap" | grep -qE 'changed=0 .*failed=0' || die "the second run with one process changed something: $recap"
log "back to one, idempotent: $recap"
