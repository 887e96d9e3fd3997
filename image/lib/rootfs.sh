# Stage "rootfs": unpack the base root file system and apply the ansible `player` role to it through Ansible's
# chroot connection (the same role ops run against existing devices), then drop what must not ship.

# apply_player_role ROOTFS APP_DIR [ansible-playbook args...]: the image playbook against a root file system.
# Needs boot.sh (the disk id) and bundle.sh (the compatible and the keyring) sourced.
apply_player_role() {
  local rootfs=$1 app=$2
  shift 2
  need ansible-playbook ansible
  ANSIBLE_CONFIG="$AVTECH_REPO_DIR/ansible/ansible.cfg" ansible-playbook \
    -i "$rootfs," -c community.general.chroot \
    -e ansible_python_interpreter=/usr/bin/python3 \
    -e "avtech_player_version=$AVTECH_VERSION" \
    -e "avtech_player_node_version=$AVTECH_NODE_VERSION" \
    -e "avtech_player_app_archive=$app/avtech-app.tar.gz" \
    -e "avtech_player_bundle_dir=$app/player" \
    -e "avtech_player_node_archive=$app/node-$AVTECH_NODE_VERSION-$AVTECH_ARCH.tar.gz" \
    -e "avtech_player_rauc_compatible=$(rauc_compatible)" \
    -e "avtech_player_rauc_keyring=$(rauc_keyring)" \
    -e "avtech_player_disk_id=$(disk_id_hex)" \
    "$@" "$AVTECH_REPO_DIR/ansible/playbooks/image.yml"
}

# clean_rootfs ROOTFS: remove caches, logs and the traces of the build.
clean_rootfs() {
  local rootfs=$1
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old \
    "$rootfs"/root/.ansible "$rootfs"/tmp/* "$rootfs"/var/tmp/*
  find "$rootfs/var/log" -type f -delete
  # Must stay empty (not missing): systemd then makes a fresh id on each card.
  : >"$rootfs/etc/machine-id"
}

# build_rootfs BASE_TAR ROOTFS APP_DIR: the finished root file system tree.
build_rootfs() {
  local base=$1 rootfs=$2 app=$3
  [[ -s $base ]] || die "no base root file system at $base: run the base stage first"
  [[ -s $app/avtech-app.tar.gz ]] || die "no application archive in $app: run the app stage first"
  [[ -s $app/player/avtech-player.mjs ]] || die "no player bundle in $app/player: run the app stage first"
  log "rootfs: unpacking $(basename "$base")"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  tar -C "$rootfs" --numeric-owner -xf "$base"
  # systemd-resolved made resolv.conf a link to its stub, which does not answer inside a chroot; apt needs DNS
  # while the role runs. The role puts the link back.
  rm -f "$rootfs/etc/resolv.conf"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  log "rootfs: applying the ansible player role (chroot connection)"
  apply_player_role "$rootfs" "$app"
  [[ -L $rootfs/etc/resolv.conf ]] || die "the player role did not restore the /etc/resolv.conf link"
  clean_rootfs "$rootfs"
  log "rootfs: $(mib_of_dir "$rootfs") MiB"
}
