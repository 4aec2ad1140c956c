#!/usr/bin/env bash
# The Debian package for real: builds it (scripts/package-deb.sh, from a clean clone of HEAD) unless
# given one, then in a clean Debian 12 root (scripts/lib/clean-root.sh, as check-clean-root.sh) with
# no Node.js of its own (after lintian, which must report no error) runs packaging/deb/test-installed.sh: apt-get install of the .deb with
# Debian's packages only, credroam --help, the README's demo from /usr/bin/credroam,
# pam-auth-update --enable credroam and a pamtester logon through common-auth, an upgrade, remove and purge
# leaving the user's data; the sizes and start-up times it measures on the way.
#
# Needs root and the network to Debian's archive (and the npm registry to build). Not run by CI
# (docs/decisions/014-debian-package.md): run it after changing packaging/ or the package script.
#   bash scripts/check-deb.sh [DEB]        # last line: `check-deb: all passed`, or the failure
#   CLEAN_ROOT_KEEP=1 …                    # keep the root folder to look into
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib/clean-root.sh
. "$repo/scripts/lib/clean-root.sh"
clean_root_begin check-deb

deb="${1:-}"
if [ -z "$deb" ]; then
  clean_root_phase "building the package (scripts/package-deb.sh)"
  deb="$(bash "$repo/scripts/package-deb.sh" "$CLEAN_ROOT_WORK/out" | sed -n '1p')"
fi
[ -f "$deb" ] || {
  echo "check-deb: no package at $deb" >&2
  exit 2
}

clean_root_phase "lintian (no errors; the warnings are explained in docs/decisions/014-debian-package.md)"
if ! command -v lintian >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lintian >/dev/null
fi
lintian --tag-display-limit 0 "$deb" >"$CLEAN_ROOT_WORK/lintian.txt" 2>/dev/null || true
sed 's/^/  /' "$CLEAN_ROOT_WORK/lintian.txt" >&2
if grep -q '^E:' "$CLEAN_ROOT_WORK/lintian.txt"; then
  echo "check-deb: lintian reports errors" >&2
  exit 1
fi

clean_root_bootstrap
clean_root_network
mkdir -p "$CLEAN_ROOT/work"
cp "$deb" "$CLEAN_ROOT/work/"
cp "$repo/packaging/deb/test-installed.sh" "$repo/scripts/demo-run.sh" "$CLEAN_ROOT/work/"

clean_root_phase "packaging/deb/test-installed.sh in the root"
status=0
clean_root_run "bash /work/test-installed.sh /work/$(basename "$deb") /work/demo-run.sh" || status=$?
clean_root_phase "test-installed.sh exited $status"
exit "$status"
