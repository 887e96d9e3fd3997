#!/usr/bin/env bash
# Idempotence check of the `control_plane` role against a booted Debian 12: boots a fresh Debian root file system
# (a tarball made by mmdebstrap/debootstrap, with systemd-sysv, dbus and python3) as a systemd-nspawn container,
# applies playbooks/control_plane.yml twice through the community.docker.nsenter connection, fails unless the
# first run succeeds and the second reports changed=0 failed=0, then asks the running service for /healthz and
# /readyz (database reachable) from inside the container's network namespace, runs avtech-cp-backup.service,
# avtech-cp-admin and avtech-cp-restore of that backup, and asks /readyz again.
#
#   ansible/check-control-plane-idempotence.sh ROOTFS_TAR DIST_DIR
#
# DIST_DIR holds the archives made by `ansible/package-control-plane.sh x64 DIST_DIR`. Needs root, and the
# packages systemd-container (systemd-nspawn), util-linux (nsenter), curl and iproute2 (ss).
#
# The container shares the host's network (the role installs packages from Debian's mirror), so PostgreSQL's 5432
# and the control plane's ports (AVTECH_CP_PORT, default 8443, and 8081 for HTTP/1.1) must be free on the host:
# the check refuses to start otherwise.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 ROOTFS_TAR DIST_DIR" >&2; exit 2; }
tarball=$(realpath "$1") dist=$(realpath "$2")
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
for port in 5432 "$AVTECH_CP_PORT" 8081; do
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
    "$here/playbooks/control_plane.yml"
}
recap_of() { grep -E '^\S+ +: ok=' <<<"$1" || true; }

log "first run"
start=$SECONDS
first=$(apply_control_plane_role 2>&1) || die "the first run failed: $first"
log "first run: $((SECONDS - start)) s: $(recap_of "$first")"
log "second run (must change nothing)"
start=$SECONDS
second=$(apply_control_plane_role 2>&1) || die "the second run failed: $second"
echo "$second"
recap=$(recap_of "$second")
[[ -n $recap ]] || die "no play recap in the second run"
echo "$recap" | grep -qE 'changed=0 .*failed=0' || die "the second run changed something: $recap"
log "second run: $((SECONDS - start)) s"
log "idempotent: $recap"

# probe PATH: the HTTP status of the control plane's h2c port, from the container's network namespace.
probe() {
  nsenter --net --target="$leader" -- curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    --http2-prior-knowledge "http://127.0.0.1:$AVTECH_CP_PORT$1" || true
}
for path in /healthz /readyz; do
  code=000
  for _ in $(seq 30); do
    code=$(probe "$path")
    [[ $code == 200 ]] && break
    sleep 1
  done
  if [[ $code != 200 ]]; then
    in_container systemctl --no-pager status avtech-control-plane.service >&2 || true
    die "$path answered $code"
  fi
  log "$path: $code"
done
active=$(in_container systemctl is-active avtech-control-plane.service postgresql.service avtech-cp-backup.timer |
  tr '\n' ' ')
log "units: $active"

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
restored=$(in_container /usr/local/sbin/avtech-cp-restore "$set_dir" 2>&1) || die "avtech-cp-restore failed: $restored"
log "restore: $(tail -n 1 <<<"$restored")"
code=000
for _ in $(seq 30); do
  code=$(probe /readyz)
  [[ $code == 200 ]] && break
  sleep 1
done
[[ $code == 200 ]] || die "/readyz answered $code after the restore"
log "/readyz after the restore: $code"
