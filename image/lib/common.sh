# Shared helpers for the image recipe: settings, logging and checks. Sourced by build.sh and by the tests.

# AVTECH_IMAGE_DIR is the image/ folder; everything else is relative to it unless overridden.
: "${AVTECH_IMAGE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${AVTECH_REPO_DIR:=$(cd "$AVTECH_IMAGE_DIR/.." && pwd)}"

AVTECH_BUILD_START=${AVTECH_BUILD_START:-$(date +%s)}

# log MESSAGE...: one progress line with wall-clock time and time since the build started.
log() {
  local now elapsed
  now=$(date +%s)
  elapsed=$((now - AVTECH_BUILD_START))
  printf '[%s +%02d:%02d] %s\n' "$(date -u +%H:%M:%S)" $((elapsed / 60)) $((elapsed % 60)) "$*"
}

# die MESSAGE...: stop the build with a message that says what to fix.
die() {
  log "ERROR: $*" >&2
  exit 1
}

# need COMMAND PACKAGE: fail early with the Debian package to install when a tool is missing.
need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found: apt-get install $2"
}

# mib_of_dir DIR: apparent size of a directory tree in MiB, rounded up.
mib_of_dir() {
  local kib
  kib=$(du -s --apparent-size -k "$1" | cut -f1)
  echo $(((kib + 1023) / 1024))
}
