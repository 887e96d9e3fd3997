#!/usr/bin/env bash
# The demo: what exists so far. Parts that later issues fill say so instead of failing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f control-plane/src/demo.ts ]; then
  exec node control-plane/src/demo.ts "$@"
fi
echo "demo: control plane not built yet (see README status table)"
