# Stage "publish": what installers download: <name>.img.xz, <name>.img.bmap (for `bmaptool copy`), a sha256
# file and a Raspberry Pi Imager repository JSON (<name>.imager.json, for `rpi-imager --repo <url>`). The raw
# .img stays next to them for the boot test and the provisioning CLI (`write-config --image`).

: "${AVTECH_DOWNLOAD_URL:=https://downloads.example.invalid/avtech}"

# imager_devices: the Imager device tags this package source supports.
imager_devices() {
  if [[ $AVTECH_PACKAGE_SOURCE == raspios ]]; then
    echo "--device pi4-64bit --device pi5-64bit"
  else
    # Debian bookworm's kernel does not support the Pi 5.
    echo "--device pi4-64bit"
  fi
}

# publish_image IMG OUT_DIR
publish_image() {
  local img=$1 out=$2 name
  name=$(basename "$img" .img)
  [[ -s $img ]] || die "no disk image at $img: run the assemble stage first"
  need bmaptool bmap-tools
  need xz xz-utils
  log "publish: bmap"
  bmaptool create -o "$out/$name.img.bmap" "$img"
  log "publish: xz -$AVTECH_XZ_LEVEL (multi-threaded)"
  xz -T0 "-$AVTECH_XZ_LEVEL" -k -f "$img"
  (cd "$out" && sha256sum "$name.img.xz" "$name.img" >"$name.sha256")
  log "publish: Raspberry Pi Imager entry"
  # shellcheck disable=SC2046
  node "$AVTECH_REPO_DIR/provisioning/src/cli.ts" imager-entry \
    --image "$img.xz" --raw "$img" --url "$AVTECH_DOWNLOAD_URL/$name.img.xz" \
    --name "AVTech player ($AVTECH_PACKAGE_SOURCE, $AVTECH_VERSION)" \
    --description "AVTech digital-signage player: boots into the player, configured by avtech.toml on the boot partition" \
    $(imager_devices) --out "$out/$name.imager.json"
  log "publish: $(du -h --apparent-size "$img.xz" | cut -f1) compressed, $(du -h --apparent-size "$img" | cut -f1) raw ($(du -h "$img" | cut -f1) allocated)"
  ls -l "$out/$name".*
}
