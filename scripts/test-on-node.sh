#!/usr/bin/env bash
# Runs the test suite (or the test files given) on another Node.js LTS line: its pinned release
# from the npm registry (scripts/lib/node-lines.sh), checked, kept in the checkout's .tmp/node-LINE
# (beside the code, so the tests that run credroam as another user can run it too), first in PATH
# for the run, so that ava, its workers and every `credroam` a test starts use it.
# The build is the workspace's own (`tsc -b` output runs on every line). Usage:
#   bash scripts/test-on-node.sh 24                   # the whole suite; last line `N passed, N failed`
#   bash scripts/test-on-node.sh 22 packages/core/test/engine/certificate.test.ts
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/node-lines.sh
. "$repo/scripts/lib/node-lines.sh"
line="${1:?usage: test-on-node.sh LINE [TEST FILE…] (lines: ${NODE_LINES[*]})}"
shift
bin="$(fetch_node "$line" "$repo/.tmp/node-$line")"
cd "$repo"
pnpm exec tsc -b
echo "test-on-node: Node $("$bin/node" -p process.versions.node) (OpenSSL $("$bin/node" -p process.versions.openssl))" >&2
PATH="$bin:$PATH" exec "$bin/node" scripts/run-tests.mjs "$@"
