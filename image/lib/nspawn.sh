# Booting a Debian root file system as a systemd-nspawn container and running commands in it, for the checks that
# need a whole clean machine (ansible/check-control-plane-idempotence.sh, scripts/test-fresh.sh). Sourced after
# common.sh. The container shares the host's network, so the package registries the host reaches are reachable.

# boot_container ROOTFS MACHINE LOG [NSPAWN_ARG...]: boots ROOTFS and waits until its systemd has finished booting.
# Sets container_nspawn_pid (the host's systemd-nspawn) and container_leader (the container's init, PID 1 inside).
boot_container() {
  local rootfs=$1 machine=$2 boot_log=$3
  shift 3
  rm -f "$rootfs/etc/resolv.conf"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  log "booting $machine (systemd-nspawn --boot)"
  # --register=no and --keep-unit: the host need not run systemd (no machined, no bus to ask for a scope).
  systemd-nspawn --boot --directory="$rootfs" --machine="$machine" --register=no --keep-unit \
    --console=read-only "$@" >"$boot_log" 2>&1 &
  container_nspawn_pid=$!
  container_leader=""
  for _ in $(seq 60); do
    container_leader=$(pgrep -P "$container_nspawn_pid" -x systemd || true)
    [[ -n $container_leader ]] && break
    kill -0 "$container_nspawn_pid" 2>/dev/null || break
    sleep 0.5
  done
  [[ -n $container_leader ]] || die "the container did not start: $(tail -20 "$boot_log")"
  local state
  state=$(timeout 120 nsenter --ipc --mount --net --pid --uts --target="$container_leader" -- \
    systemctl is-system-running --wait 2>/dev/null || true)
  case $state in
  running | degraded) log "booted: systemd says '$state' (container init is PID $container_leader on the host)" ;;
  *) die "the container's systemd did not finish booting (state '$state'): $(tail -20 "$boot_log")" ;;
  esac
}

# in_container COMMAND...: runs a command in the container's namespaces (what ansible's nsenter connection does).
in_container() {
  nsenter --ipc --mount --net --pid --uts --target="$container_leader" -- "$@"
}

# stop_container: asks the container's systemd to halt (SIGTERM to systemd-nspawn), SIGKILL if it has not within 60 s.
stop_container() {
  [[ -n ${container_nspawn_pid:-} ]] && kill -0 "$container_nspawn_pid" 2>/dev/null || return 0
  kill -TERM "$container_nspawn_pid" 2>/dev/null || true
  for _ in $(seq 120); do
    kill -0 "$container_nspawn_pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$container_nspawn_pid" 2>/dev/null || true
  wait "$container_nspawn_pid" 2>/dev/null || true
}
