#!/usr/bin/env bash
# The README's first command: sets up a fresh machine and runs credroam on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo
echo "== credroam plugins list: the plugins the default agent manifest loads, and what each contributes"
node packages/agent/dist/src/bin/credroam.js plugins list
