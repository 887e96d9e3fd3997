#!/usr/bin/env bash
# Fails when proto/ does not lint or when proto/src/gen differs from what `buf generate` makes
# from the .proto files (someone changed a .proto and did not run `make proto`).
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
echo "proto: lint clean, generated code fresh"
