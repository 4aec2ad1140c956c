#!/usr/bin/env bash
# The demo itself (needs a built workspace): two endpoints of one user on this machine, one shared
# folder as the directory, a credential made on the spot with openssl.
set -euo pipefail
# CREDROAM=/usr/bin/credroam runs it with an installed credroam instead of this checkout's (with
# CREDROAM_NODE=/usr/lib/credroam/node/bin/node for the demo's own checks where no node is installed).
root="$(cd "$(dirname "$0")/.." && pwd)"
node="${CREDROAM_NODE:-node}"
if [ -n "${CREDROAM:-}" ]; then
  credroam() { "$CREDROAM" "$@"; }
else
  credroam() { "$node" "$root/packages/agent/dist/src/bin/credroam.js" "$@"; }
fi
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ credroam %s\n' "$*"; credroam "$@"; }

umask 077
work="$(mktemp -d "${TMPDIR:-/tmp}/credroam-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'correct horse battery staple\n' > roaming-password
printf 'export secret\n' > p12-password

say "Two endpoints (laptop, desktop) of user alice share one directory: a folder, $work/directory"
run init --config laptop.json  --directory "file://$work/directory" --home "$work/laptop"  --user alice
run init --config desktop.json --directory "file://$work/directory" --home "$work/desktop" --user alice

say "alice logs on at the laptop: her master key is created, wrapped by her password, and stored in the directory"
run --config laptop.json logon --password-file roaming-password

say "A credential is made with openssl and imported on the laptop (its private key is encrypted at rest)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout alice.key -out alice.crt \
  -days 365 -subj "/CN=Alice Example/emailAddress=alice@example.org" 2>/dev/null
openssl pkcs12 -export -in alice.crt -inkey alice.key -out alice.p12 -passout file:p12-password
run --config laptop.json import alice.p12 --passin file:p12-password --password-file roaming-password
run --config laptop.json list

say "The laptop syncs: the certificate and the key go to the directory, sealed (AES-256-GCM) under her master key"
run --config laptop.json sync --password-file roaming-password
"$node" - "$work/directory/alice/values" alice.crt alice.key <<'JS'
// Looks for the certificate's and the private key's bytes inside the directory's values.
const fs = require('node:fs');
const { X509Certificate, createPrivateKey } = require('node:crypto');
const [values, crt, key] = process.argv.slice(2);
const tokens = JSON.parse(fs.readFileSync(values, 'utf8')).tokens.map((v) => Buffer.from(v, 'base64'));
const certDer = new X509Certificate(fs.readFileSync(crt)).raw;
const keyDer = createPrivateKey(fs.readFileSync(key)).export({ type: 'pkcs8', format: 'der' });
const found = tokens.filter((t) => t.includes(certDer) || t.includes(keyDer.subarray(-40)));
console.log(`the directory holds ${tokens.length} values; certificate or key bytes found in clear: ${found.length}`);
process.exit(found.length === 0 ? 0 : 1);
JS

say "alice logs on at the desktop: the credential arrives"
run --config desktop.json logon --password-file roaming-password
run --config desktop.json status
run --config laptop.json status

say "Both endpoints hold the same certificate"
thumb="$(credroam --config desktop.json list --json | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).credentials[0].sha256))')"
echo "openssl: $(openssl x509 -in alice.crt -noout -fingerprint -sha256 | tr -d : | tr 'A-F' 'a-f')"
echo "desktop: sha256 fingerprint=$thumb"

say "Once both sides agree, a sync with nothing to do reads one small value (the change stamp) and stops"
echo "(the first sync after the logon's download reads both sides once more: the download changed the"
echo " desktop's store, and credroam does not take its own writes as proof that nobody else wrote there)"
run --config desktop.json sync --password-file roaming-password
run --config desktop.json sync --password-file roaming-password

say "alice removes the credential on the desktop; the deletion roams as a tombstone"
run --config desktop.json remove "$thumb"
run --config desktop.json sync --password-file roaming-password
run --config laptop.json sync --password-file roaming-password
run --config laptop.json list
say "Done: the credential left both endpoints (each keeps a copy in its store's removed/ folder for 60 days)"
