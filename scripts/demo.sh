#!/usr/bin/env bash
# The README's first command: sets up a fresh machine, then shows credroam roaming a credential
# between two endpoints through the embedded folder directory.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --demo
exec bash scripts/demo-run.sh
