# shellcheck shell=bash
# A clean Debian 12 root to run things in, shared by scripts/check-clean-root.sh and
# scripts/check-deb.sh (sourced, not run). A minimal bookworm root (mmdebstrap, variant minbase) in
# a temporary folder; what runs in it runs through chroot in its own mount and PID namespaces.
# Afterwards (also on failure or Ctrl-C) no mount and no process of the root is left: they live in
# the namespaces, which the kernel tears down with their last process, and the folder is removed.
#
#   clean_root_begin NAME      root check, mmdebstrap, the folder, the cleanup trap; sets CLEAN_ROOT
#   clean_root_bootstrap       bookworm minbase into $CLEAN_ROOT (this machine's Debian sources)
#   clean_root_network         the resolver, the local CAs, the proxy and registry variables
#   clean_root_run SCRIPT      runs `bash -c SCRIPT` in the root as root; returns its exit status
#   clean_root_phase TEXT      a timed progress line on stderr
# Settings: CLEAN_ROOT_KEEP=1 keeps the folder; CLEAN_ROOT_SOURCES=FILE the root's apt sources.

clean_root_name=""
clean_root_started=$SECONDS
clean_root_ns_pid=""
CLEAN_ROOT_WORK=""
CLEAN_ROOT=""
clean_root_env=()

clean_root_phase() {
  printf '%s: [%dm%02ds] %s\n' "$clean_root_name" $(((SECONDS - clean_root_started) / 60)) \
    $(((SECONDS - clean_root_started) % 60)) "$*" >&2
}

clean_root_cleanup() {
  local status=$?
  set +e
  # The namespaces end with their last process. unshare blocks SIGINT and SIGTERM while it waits
  # for its child (and the namespace's PID 1 ignores them from outside), so it gets SIGKILL: then
  # --kill-child sends the child SIGKILL, and the kernel kills every process of the namespace.
  if [ -n "$clean_root_ns_pid" ] && kill -0 "$clean_root_ns_pid" 2>/dev/null; then
    kill -KILL "$clean_root_ns_pid"
    wait "$clean_root_ns_pid" 2>/dev/null
  fi
  # Anything mounted below the folder in this namespace (mmdebstrap's own, if it was interrupted).
  findmnt -rn -o TARGET | grep -F "$CLEAN_ROOT_WORK/" | sort -r | xargs -r -d '\n' umount -l
  if [ -n "${CLEAN_ROOT_KEEP:-}" ]; then
    echo "$clean_root_name: kept $CLEAN_ROOT" >&2
  else
    rm -rf --one-file-system "$CLEAN_ROOT_WORK"
  fi
  exit "$status"
}

clean_root_begin() {
  clean_root_name="$1"
  [ "$(id -u)" -eq 0 ] || {
    echo "$clean_root_name: needs root (debootstrapping, chroot, mounts)" >&2
    exit 2
  }
  if ! command -v mmdebstrap >/dev/null; then
    clean_root_phase "installing mmdebstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
  fi
  CLEAN_ROOT_WORK="$(mktemp -d "${TMPDIR:-/tmp}/credroam-clean-root.XXXXXX")"
  CLEAN_ROOT="$CLEAN_ROOT_WORK/root"
  trap clean_root_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

clean_root_bootstrap() {
  # The machine's own Debian sources (the network here may reach only those mirrors).
  local sources="${CLEAN_ROOT_SOURCES:-}" f
  if [ -z "$sources" ]; then
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
      if [ -s "$f" ] && grep -qE '^(deb |Types:)' "$f"; then
        sources="$f"
        break
      fi
    done
  fi
  clean_root_phase "bookworm minbase into $CLEAN_ROOT${sources:+ (sources: $sources)}"
  mmdebstrap --quiet --variant=minbase bookworm "$CLEAN_ROOT" ${sources:+"$sources"}
}

clean_root_network() {
  # What any machine on this network has, not what the project installs: the resolver, and the
  # local certificate authorities the machine trusts (an egress proxy may sign the registries'
  # certificates).
  cp /etc/resolv.conf "$CLEAN_ROOT/etc/resolv.conf"
  if [ -d /usr/local/share/ca-certificates ]; then
    cp -a /usr/local/share/ca-certificates/. "$CLEAN_ROOT/usr/local/share/ca-certificates/"
  fi
  local v
  clean_root_env=()
  for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY \
    npm_config_registry NPM_CONFIG_REGISTRY; do
    [ -n "${!v:-}" ] && clean_root_env+=("$v=${!v}")
  done
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    mkdir -p "$CLEAN_ROOT$(dirname "$NODE_EXTRA_CA_CERTS")"
    cp "$NODE_EXTRA_CA_CERTS" "$CLEAN_ROOT$NODE_EXTRA_CA_CERTS"
  fi
}

clean_root_run() {
  # Inside the namespaces: /proc for the new PID namespace, /sys, /dev with a private /dev/shm, a
  # tmpfs /run. The shell that mounts them stays PID 1 (so every process of the root dies with it).
  local status
  set +e
  # shellcheck disable=SC2016 # the script is expanded by the inner bash
  unshare --mount --pid --fork --kill-child --mount-proc="$CLEAN_ROOT/proc" \
    bash -euc '
      root=$1; script=$2; shift 2
      mount -t sysfs -o ro sysfs "$root/sys"
      mount --rbind /dev "$root/dev"
      mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
      mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$root/run"
      chroot "$root" /usr/bin/env -i "$@" bash -c "$script"
    ' "$clean_root_name" "$CLEAN_ROOT" "$1" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 CI=true \
    "${clean_root_env[@]}" &
  clean_root_ns_pid=$!
  wait "$clean_root_ns_pid"
  status=$?
  clean_root_ns_pid=""
  set -e
  return "$status"
}
