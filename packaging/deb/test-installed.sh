#!/usr/bin/env bash
# The package's test, run as root inside a clean Debian 12 root by scripts/check-deb.sh (never on
# a machine of yours: it changes /etc/pam.d and adds a user). Installs the .deb with Debian's own
# packages only, then: credroam --help and the man page, the README's two-endpoint demo from
# /usr/bin/credroam, pam-auth-update --enable credroam and a logon through Debian's common-auth
# and common-session with pamtester, an upgrade, remove and purge leaving the user's data. Prints the
# measurements (sizes, start-up times) it makes on the way. Usage: test-installed.sh DEB DEMO_RUN
set -euo pipefail
deb="$1"
demo_run="$2"
export DEBIAN_FRONTEND=noninteractive
step() { printf '\n== check-deb: %s\n' "$*"; }
fail() {
  echo "check-deb: FAILED: $*" >&2
  exit 1
}

step "apt-get install $deb (Debian's own packages only)"
command -v node >/dev/null && fail "this root has a node of its own: the test would not show the package carries one"
apt-get update -qq
apt-get install -y -qq "$deb" >/tmp/apt.log 2>&1 || {
  cat /tmp/apt.log
  fail "apt-get install"
}
grep -E '^(Setting up|credroam:)' /tmp/apt.log
dpkg-query -W -f='installed: ${Package} ${Version}, Installed-Size ${Installed-Size} KiB\n' credroam
echo "package file: $(stat -c %s "$deb") bytes"
echo "disk use of the installed files: $(du -sk /usr/lib/credroam /usr/share/doc/credroam /usr/share/credroam | awk '{s+=$1} END {print s}') KiB"
[ "$(stat -c '%U:%G %a' /usr/bin/credroam)" = "root:root 755" ] || fail "/usr/bin/credroam is not root:root 0755"
[ -z "$(find /usr/lib/credroam /usr/share/credroam /usr/share/doc/credroam ! -user root)" ] || fail "files not owned by root"
[ -z "$(find /usr/lib/credroam /usr/share/credroam /usr/share/doc/credroam -perm /022)" ] || fail "group- or world-writable files"

step "credroam --help, --version and the man page"
credroam --help | tail -1
credroam --version
[ -s /usr/share/man/man1/credroam.1.gz ] || fail "no man page"
zcat /usr/share/man/man1/credroam.1.gz | grep -q '^\.SS "credroam sync"' || fail "the man page has no sync section"
echo "man page: $(zcat /usr/share/man/man1/credroam.1.gz | wc -l) lines, $(zcat /usr/share/man/man1/credroam.1.gz | grep -c '^\.SS') commands"
/usr/lib/credroam/node/bin/node -e 'require("/usr/lib/credroam/agent/node_modules/kerberos")' &&
  echo "the kerberos addon loads in the carried node (GSSAPI binds available)"

step "start-up time: credroam --help against node -e 0 (the same carried node; hyperfine from Debian)"
apt-get install -y -qq --no-install-recommends hyperfine >/dev/null
hyperfine -N --warmup 3 --runs 30 --export-markdown /tmp/startup.md \
  '/usr/lib/credroam/node/bin/node -e 0' '/usr/bin/credroam --help' 'sh -c "/usr/bin/credroam --version"' >/dev/null
cat /tmp/startup.md

step "the README's demo, with the installed /usr/bin/credroam (openssl from Debian for its credential)"
apt-get install -y -qq --no-install-recommends openssl >/dev/null
CREDROAM=/usr/bin/credroam CREDROAM_NODE=/usr/lib/credroam/node/bin/node bash "$demo_run" >/tmp/demo.log 2>&1 || {
  cat /tmp/demo.log
  fail "the demo"
}
grep -E 'found in clear|^openssl:|^desktop:|Done:' /tmp/demo.log
o="$(sed -n 's/^openssl: .*=//p' /tmp/demo.log)"
d="$(sed -n 's/^desktop: .*=//p' /tmp/demo.log)"
{ [ -n "$o" ] && [ "$o" = "$d" ]; } || fail "the desktop's fingerprint is not openssl's"

step "PAM: pam-auth-update --enable credroam, then pamtester logs alice on through common-auth"
apt-get install -y -qq --no-install-recommends pamtester passwd >/dev/null
useradd --create-home --shell /bin/bash alice
password="alice's system password $RANDOM$RANDOM"
printf 'alice:%s\n' "$password" | chpasswd
install -d -o alice -g alice -m 700 /srv/directory
as_alice() { setpriv --reuid="$(id -u alice)" --regid="$(id -g alice)" --init-groups --reset-env env HOME=/home/alice "$@"; }
# `status` exits 3 while something is skipped: only its output is looked at.
status_json() { as_alice credroam status --json 2>/dev/null || true; }
as_alice credroam init --directory file:///srv/directory
grep -q credroam /etc/pam.d/common-auth && fail "credroam is in common-auth before it was enabled (Default: no)"
pam-auth-update --enable credroam
grep -E 'credroam|use_first_pass' /etc/pam.d/common-auth /etc/pam.d/common-session
printf 'auth include common-auth\naccount include common-account\nsession include common-session\n' >/etc/pam.d/credroam-test
printf 'a wrong password\n' | pamtester credroam-test alice authenticate && fail "a wrong password authenticated"
status_json | grep -q '"running": *true' && fail "a rejected password started an agent"
printf '%s\n' "$password" | pamtester -v credroam-test alice authenticate
{ as_alice credroam status || true; } | grep -i agent
status_json | grep -Eq '"unlocked": *true' || fail "the agent does not hold alice's keys after the logon"
pamtester -v credroam-test alice open_session close_session
status_json | grep -Eq '"unlocked": *false' || fail "the keys are still open after the session closed"
{ as_alice credroam status || true; } | grep -i agent
as_alice credroam trigger stop || true

step "an upgrade (the same files as version +1): the PAM lines stay enabled, alice's data stays"
version="$(dpkg-query -W -f='${Version}' credroam)"
rm -rf /tmp/next && dpkg-deb -R "$deb" /tmp/next
sed -i "s/^Version: .*/Version: $version+1/" /tmp/next/DEBIAN/control
dpkg-deb --build --root-owner-group /tmp/next "/tmp/credroam_${version}+1_amd64.deb" >/dev/null
apt-get install -y -qq "/tmp/credroam_${version}+1_amd64.deb" 2>&1 | grep -E '^credroam:' || fail "no upgrade notice"
dpkg-query -W -f='installed: ${Version}\n' credroam
grep -q credroam-pam-hook /etc/pam.d/common-auth || fail "the upgrade took the enabled PAM lines out"
{ [ -f /home/alice/.config/credroam/config.json ] && [ -d /home/alice/.local/share/credroam ]; } ||
  fail "the upgrade touched alice's data"
as_alice credroam --version

step "apt-get remove: the PAM lines go, alice's data stays"
ls -d /home/alice/.local/share/credroam /home/alice/.config/credroam/config.json
apt-get remove -y -qq credroam >/tmp/apt.log 2>&1 || {
  cat /tmp/apt.log
  fail "apt-get remove"
}
grep -q credroam /etc/pam.d/common-auth /etc/pam.d/common-session && fail "credroam's lines stayed in the PAM stack"
[ ! -e /usr/bin/credroam ] || fail "/usr/bin/credroam stayed"
{ [ -f /home/alice/.config/credroam/config.json ] && [ -d /home/alice/.local/share/credroam ]; } ||
  fail "apt-get remove touched alice's data"
echo "removed; alice's manifest and store are still there"
pamtester credroam-test alice authenticate <<<"$password" && echo "alice still logs on (no credroam left in the stack)"

step "apt-get purge: it says what it leaves"
apt-get purge -y -qq credroam 2>&1 | sed -n '/credroam: purged/,/consent/p'
{ [ -f /home/alice/.config/credroam/config.json ] && [ -d /home/alice/.local/share/credroam ]; } ||
  fail "apt-get purge touched alice's data"
echo "check-deb: all passed"
