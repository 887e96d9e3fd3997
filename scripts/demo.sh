#!/usr/bin/env bash
# `make demo`: see scripts/demo.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/demo.ts "$@"
