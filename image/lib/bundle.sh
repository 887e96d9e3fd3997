# Stage "bundle" (`make update-bundle`): a signed RAUC update bundle of the root file system the assemble stage
# made (slot A's ext4, PARTS/root.img), in RAUC's verity format, for the slots of the same image: compatible
# avtech-rpi-<arch>-<source>, version AVTECH_VERSION. Signed with AVTECH_SIGNING_CERT/AVTECH_SIGNING_KEY; when
# they are not set, with a development key pair made on first use under AVTECH_KEYS_DIR (image/keys/dev,
# gitignored). The image trusts AVTECH_RAUC_KEYRING (default: that development CA). See image/README.md.

: "${AVTECH_KEYS_DIR:=$AVTECH_IMAGE_DIR/keys/dev}"

# rauc_compatible: the RAUC compatible string of this build's images and bundles.
rauc_compatible() {
  echo "avtech-rpi-$AVTECH_ARCH-$AVTECH_PACKAGE_SOURCE"
}

# ensure_dev_keys DIR: a development CA (ca.cert.pem, ca.key.pem) and a signing key pair it certifies
# (signing.cert.pem, signing.key.pem; key usage digitalSignature and no extended key usage, as RAUC's default
# purpose check, smimesign, accepts), made with openssl the first time. For development and tests only: a
# fleet signs with its own keys (image/README.md, "Keys").
ensure_dev_keys() {
  local dir=$1
  [[ -s $dir/ca.cert.pem && -s $dir/signing.cert.pem && -s $dir/signing.key.pem ]] && return
  need openssl openssl
  log "bundle: making a development CA and signing key in $dir (never for devices in the field)"
  mkdir -p "$dir"
  chmod 0700 "$dir"
  local ext
  ext=$(mktemp)
  printf '%s\n' '[ca]' 'basicConstraints=critical,CA:true' 'keyUsage=critical,keyCertSign,cRLSign' \
    'subjectKeyIdentifier=hash' '[signing]' 'basicConstraints=critical,CA:false' \
    'keyUsage=critical,digitalSignature' \
    'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid' >"$ext"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/O=AVTech development/CN=AVTech development update CA" \
    -keyout "$dir/ca.key.pem" -out "$dir/ca.cert.pem" -extensions ca -config "$ext" 2>/dev/null ||
    die "openssl could not make the development CA in $dir"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/O=AVTech development/CN=AVTech development update signing" \
    -keyout "$dir/signing.key.pem" -out "$dir/signing.csr.pem" 2>/dev/null ||
    die "openssl could not make the development signing key in $dir"
  openssl x509 -req -in "$dir/signing.csr.pem" -CA "$dir/ca.cert.pem" -CAkey "$dir/ca.key.pem" \
    -CAcreateserial -days 1825 -extfile "$ext" -extensions signing -out "$dir/signing.cert.pem" 2>/dev/null ||
    die "openssl could not certify the development signing key in $dir"
  rm -f "$dir/signing.csr.pem" "$ext"
  chmod 0600 "$dir"/*.key.pem
}

# rauc_keyring: the keyring (PEM CA certificates) the image's RAUC trusts: AVTECH_RAUC_KEYRING, else the
# development CA (made when missing).
rauc_keyring() {
  if [[ -n ${AVTECH_RAUC_KEYRING:-} ]]; then
    [[ -s $AVTECH_RAUC_KEYRING ]] || die "AVTECH_RAUC_KEYRING=$AVTECH_RAUC_KEYRING: no such file"
    echo "$AVTECH_RAUC_KEYRING"
  else
    ensure_dev_keys "$AVTECH_KEYS_DIR" >&2
    echo "$AVTECH_KEYS_DIR/ca.cert.pem"
  fi
}

# build_update_bundle ROOT_EXT4 OUT_BUNDLE COMPATIBLE VERSION CERT KEY KEYRING: a verity RAUC bundle holding
# ROOT_EXT4 as the image of the rootfs slot class, signed with CERT/KEY and checked against KEYRING.
build_update_bundle() {
  local root=$1 out=$2 compatible=$3 version=$4 cert=$5 key=$6 keyring=$7
  need rauc rauc
  need mksquashfs squashfs-tools
  [[ -s $root ]] || die "no root file system image at $root: run the image build (make image) first"
  local stage
  stage=$(mktemp -d "$(dirname "$out")/bundle.XXXXXX")
  # A hard link, not a copy, where the file system allows (the image is ~1.4 GiB).
  ln "$root" "$stage/rootfs.ext4" 2>/dev/null || cp --reflink=auto "$root" "$stage/rootfs.ext4"
  cat >"$stage/manifest.raucm" <<MANIFEST
[update]
compatible=$compatible
version=$version
description=AVTech player OS ($AVTECH_PACKAGE_SOURCE packages)
build=$(date -u +%Y%m%dT%H%M%SZ)

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
MANIFEST
  rm -f "$out"
  # zstd: the device's kernel reads it (CONFIG_SQUASHFS_ZSTD), and it is quick to make and to unpack on a Pi.
  rauc bundle --cert="$cert" --key="$key" --keyring="$keyring" --mksquashfs-args="-comp zstd -Xcompression-level 15" \
    "$stage" "$out" >"$stage.log" 2>&1 || {
    cat "$stage.log" >&2
    rm -rf "$stage" "$stage.log"
    die "rauc bundle failed for $out"
  }
  rm -rf "$stage" "$stage.log"
}

# bundle_stage PARTS OUT: OUT/avtech-<version>-<source>-<arch>.raucb from PARTS/root.img, signed with the fleet's
# key or the development one. The version is the one the root was assembled with (PARTS/root.version, written by
# the assemble stage), so a bundle made later from the same build carries the version its player reports.
bundle_stage() {
  local parts=$1 out=$2 cert key keyring version name
  [[ -s $parts/root.img ]] || die "no root file system image at $parts/root.img: run the image build (make image) first"
  version=$(cat "$parts/root.version" 2>/dev/null || echo "$AVTECH_VERSION")
  name="avtech-$version-$AVTECH_PACKAGE_SOURCE-$AVTECH_ARCH"
  keyring=$(rauc_keyring)
  if [[ -n ${AVTECH_SIGNING_CERT:-} || -n ${AVTECH_SIGNING_KEY:-} ]]; then
    [[ -s ${AVTECH_SIGNING_CERT:-} && -n ${AVTECH_SIGNING_KEY:-} ]] ||
      die "set both AVTECH_SIGNING_CERT (a PEM file) and AVTECH_SIGNING_KEY (a PEM file or PKCS#11 URL)"
    cert=$AVTECH_SIGNING_CERT key=$AVTECH_SIGNING_KEY
  else
    ensure_dev_keys "$AVTECH_KEYS_DIR"
    cert=$AVTECH_KEYS_DIR/signing.cert.pem key=$AVTECH_KEYS_DIR/signing.key.pem
  fi
  log "bundle: $name.raucb ($(rauc_compatible), version $version)"
  build_update_bundle "$parts/root.img" "$out/$name.raucb" "$(rauc_compatible)" "$version" "$cert" "$key" "$keyring"
  log "bundle: $(($(stat -c %s "$out/$name.raucb") / 1048576)) MiB"
  rauc info --keyring="$keyring" "$out/$name.raucb" 2>/dev/null | sed 's/^/  /'
}
