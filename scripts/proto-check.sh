#!/usr/bin/env bash
# Fails when proto/ does not lint or when proto/src/gen differs from what `buf generate` makes
# from the .proto files (someone changed a .proto and did not run `make proto`), and when a change
# breaks the wire contract of the latest release tag.
set -euo pipefail
cd "$(dirname "$0")/../proto"
buf lint
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
buf generate --output "$fresh"
if ! diff -r "$fresh/src/gen" src/gen >/dev/null; then
  echo "proto/src/gen is stale: the .proto files changed without regenerating. Run 'make proto' and commit the result." >&2
  diff -r "$fresh/src/gen" src/gen | head -20 >&2 || true
  exit 1
fi
# Breaking changes are checked against the newest release tag (v*), once one exists.
release=$(git -C .. tag --list 'v*' --sort=-v:refname 2>/dev/null | head -n 1)
if [ -n "$release" ]; then
  buf breaking --against "../.git#tag=$release,subdir=proto"
  echo "proto: no breaking changes against $release"
fi
echo "proto: lint clean, generated code fresh"
