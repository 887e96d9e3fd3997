# Stage "app": what the ansible `player` role installs: the stripped Node binary for the target architecture
# (from the npm registry's node-linux-<arch> package), the player's device bundle (one esbuild file, run with
# `node --lite-mode`), and the boot-time site-settings tool (provisioning) with its production dependencies
# (pure JavaScript, so they are copied from this checkout's node_modules as-is).

# node_package_arch: npm's name for the target architecture.
node_package_arch() {
  case $AVTECH_ARCH in
  arm64) echo arm64 ;;
  amd64) echo x64 ;;
  *) die "no Node build known for architecture $AVTECH_ARCH" ;;
  esac
}

# strip_for_arch FILE: strip debug symbols with the binutils of the target architecture.
strip_for_arch() {
  case $AVTECH_ARCH in
  arm64)
    need aarch64-linux-gnu-strip binutils-aarch64-linux-gnu
    aarch64-linux-gnu-strip "$1"
    ;;
  *) strip "$1" ;;
  esac
}

# build_node_archive DIR: DIR/node-<version>-<arch>.tar.gz holding bin/node, stripped.
build_node_archive() {
  local dir=$1 arch tgz stage
  arch=$(node_package_arch)
  tgz="$dir/node-$AVTECH_NODE_VERSION-$AVTECH_ARCH.tar.gz"
  if [[ -s $tgz ]]; then
    log "app: cached $(basename "$tgz")"
    return
  fi
  stage=$(mktemp -d "$dir/node.XXXXXX")
  log "app: npm pack node-linux-$arch@$AVTECH_NODE_VERSION"
  (cd "$stage" && npm pack --silent "node-linux-$arch@$AVTECH_NODE_VERSION" >/dev/null)
  tar -xzf "$stage"/node-linux-"$arch"-*.tgz -C "$stage"
  mkdir -p "$stage/root/bin"
  install -m 0755 "$stage/package/bin/node" "$stage/root/bin/node"
  cp "$stage/package/LICENSE" "$stage/root/LICENSE" 2>/dev/null || true
  local before after
  before=$(stat -c %s "$stage/root/bin/node")
  strip_for_arch "$stage/root/bin/node"
  after=$(stat -c %s "$stage/root/bin/node")
  log "app: node stripped from $((before / 1048576)) MiB to $((after / 1048576)) MiB"
  tar --owner=0 --group=0 --numeric-owner -czf "$tgz.partial" -C "$stage/root" .
  mv "$tgz.partial" "$tgz"
  rm -rf "$stage"
}

# workspace_name FOLDER: the package name of the workspace in FOLDER (relative to the repo), e.g. proto/io → @avtech/io.
workspace_name() {
  node -p 'require(process.argv[1]).name' "$AVTECH_REPO_DIR/$1/package.json"
}

# app_dependency_dirs WORKSPACE_FOLDER...: the production dependency folders of the workspaces, relative to the repo.
app_dependency_dirs() {
  local args=() ws
  for ws in "$@"; do args+=(-w "$(workspace_name "$ws")"); done
  (cd "$AVTECH_REPO_DIR" &&
    npm ls --all --parseable --omit=dev "${args[@]}" 2>/dev/null |
    sed "s#^$AVTECH_REPO_DIR/##" | grep '^node_modules/' | grep -v '^node_modules/@avtech/' | sort -u)
}

# build_app_archive TGZ WORKSPACE_FOLDER...: a tarball with each workspace's package.json and src/ (plus a
# built console's dist/ when present) and their production node_modules/, laid out like the repository so Node
# resolves @avtech/* through workspace links. List every workspace the others import at run time, nested ones
# included (proto/io is @avtech/io).
build_app_archive() {
  local tgz=$1 stage ws
  shift
  stage=$(mktemp -d "$(dirname "$tgz")/app.XXXXXX")
  # mktemp makes the folder 0700, and unpacking the tarball gives its root's mode to the release folder.
  chmod 0755 "$stage"
  log "app: staging $*"
  printf '{\n  "name": "avtech-release",\n  "private": true,\n  "type": "module"\n}\n' >"$stage/package.json"
  for ws in "$@"; do
    mkdir -p "$stage/$ws"
    cp "$AVTECH_REPO_DIR/$ws/package.json" "$stage/$ws/"
    # Tests stay in the repository; the target gets the sources Node runs (type stripping, no build step).
    tar -C "$AVTECH_REPO_DIR/$ws" --exclude='*.test.ts' -cf - src | tar -C "$stage/$ws" -xf -
    if [[ -d $AVTECH_REPO_DIR/$ws/console/dist ]]; then
      mkdir -p "$stage/$ws/console"
      cp -a "$AVTECH_REPO_DIR/$ws/console/dist" "$stage/$ws/console/"
    fi
  done
  mkdir -p "$stage/node_modules/@avtech"
  for ws in "$@"; do ln -s "../../$ws" "$stage/node_modules/$(workspace_name "$ws")"; done
  local deps
  deps=$(app_dependency_dirs "$@")
  [[ -n $deps ]] || die "no production dependencies found: run 'npm install' in $AVTECH_REPO_DIR first"
  # shellcheck disable=SC2086
  (cd "$AVTECH_REPO_DIR" && tar -cf - $deps) | tar -C "$stage" -xf -
  log "app: $(echo "$deps" | wc -l) dependency packages, $(mib_of_dir "$stage") MiB"
  tar --owner=0 --group=0 --numeric-owner --sort=name -czf "$tgz.partial" -C "$stage" .
  mv "$tgz.partial" "$tgz"
  rm -rf "$stage"
}

# build_player_bundle DIR: DIR/avtech-player.mjs and its third-party notices, from `npm run bundle` (player/build).
# The source map stays in the build output: devices do not use it (see player/README.md, "Device build").
build_player_bundle() {
  local dir=$1 dist="$AVTECH_REPO_DIR/player/dist"
  log "app: bundling the player (npm run bundle -w @avtech/player)"
  (cd "$AVTECH_REPO_DIR" && npm run --silent bundle -w @avtech/player) | sed 's/^/  /'
  mkdir -p "$dir"
  install -m 0644 "$dist/avtech-player.mjs" "$dist/avtech-player.licenses.txt" "$dir/"
  log "app: player bundle $(($(stat -c %s "$dir/avtech-player.mjs") / 1024)) KiB"
}

# build_app_archives DIR: the Node tarball, the player bundle (DIR/player/) and the site-settings tool's
# tarball (avtech-app.tar.gz: provisioning, which avtech-boot-config.service runs, and proto for its CLI).
build_app_archives() {
  mkdir -p "$1"
  build_node_archive "$1"
  build_player_bundle "$1/player"
  build_app_archive "$1/avtech-app.tar.gz" proto provisioning
}
