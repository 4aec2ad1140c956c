import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { generalNames } from '../src/alt-names.js';
import { certificationRequest } from '../src/csr.js';
import { rsaKey } from '../src/request-key.js';
import { parseSubject, subjectName } from '../src/subject.js';

const run = promisify(execFile);

test('RFC 4514: escapes, hex-escaped UTF-8, multi-valued RDNs, types in any case', (t) => {
  t.deepEqual(parseSubject('cn=Alice\\, Jr. \\2B co,OU=R\\C3\\A9seau+L=Paris,dc=example,DC=org'), {
    ok: true,
    rdns: [
      [{ type: 'CN', value: 'Alice, Jr. + co' }],
      [
        { type: 'OU', value: 'Réseau' },
        { type: 'L', value: 'Paris' },
      ],
      [{ type: 'DC', value: 'example' }],
      [{ type: 'DC', value: 'org' }],
    ],
  });
  t.deepEqual(parseSubject('UID=alice 😀, E = alice@example.org,emailAddress=a@b.c,ST=\\ Île\\ '), {
    ok: true,
    rdns: [
      [{ type: 'UID', value: 'alice 😀' }],
      [{ type: 'E', value: 'alice@example.org' }],
      [{ type: 'E', value: 'a@b.c' }],
      [{ type: 'ST', value: ' Île ' }],
    ],
  });
});

test('RFC 4514: what credroam refuses, with the reason', (t) => {
  const reason = (s: string) => {
    const r = parseSubject(s);
    return r.ok ? 'accepted' : r.reason;
  };
  t.regex(reason(''), /empty/);
  t.regex(reason('CN=#0403616263'), /#hex/);
  t.regex(reason('FOO=bar'), /unknown attribute type 'FOO'/);
  t.regex(reason('CN=a=b'), /'=' must be escaped/);
  t.regex(reason('CN=a\\zz'), /bad escape/);
  t.regex(reason('CN=\\C3'), /not UTF-8/);
  t.regex(reason('CN='), /empty/);
  t.regex(reason('C=France'), /two-letter/);
  t.regex(reason('E=é@example.org'), /IA5String/);
  t.regex(reason('CN=alice,'), /no '='/);
});

test("the CSR, read by openssl: signature, subject in RFC 4514's reverse order, SANs (UPN as otherName), challengePassword", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-csr-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = rsaKey(
    { privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })) },
    'p',
  );
  const parsed = parseSubject('CN=alice,OU=Staff+L=Paris,O=Example,C=FR');
  if (!parsed.ok) return t.fail(parsed.reason);
  const names = generalNames([
    { type: 'email', value: 'alice@example.org' },
    { type: 'dns', value: 'alice.example.org' },
    { type: 'uri', value: 'https://example.org/alice' },
    { type: 'upn', value: 'alice@EXAMPLE.ORG' },
  ]);
  if (!names.ok) return t.fail(names.reason);
  const der = certificationRequest(
    { subject: subjectName(parsed.rdns), altNames: names.der, challenge: 'open sesame' },
    key,
  );
  const file = path.join(dir, 'req.der');
  await writeFile(file, der);
  const { stdout, stderr } = await run('openssl', [
    'req',
    '-inform',
    'DER',
    '-in',
    file,
    '-verify',
    '-noout',
    '-text',
    '-nameopt',
    'RFC2253',
  ]);
  t.regex(`${stdout}${stderr}`, /verify OK|Certificate request self-signature verify OK/);
  t.regex(
    stdout,
    /Subject: CN=alice,L=Paris\+OU=Staff,O=Example,C=FR|Subject: CN=alice,OU=Staff\+L=Paris,O=Example,C=FR/,
  );
  t.regex(
    stdout,
    /email:alice@example.org, DNS:alice.example.org, URI:https:\/\/example.org\/alice, othername: UPN:+alice@EXAMPLE.ORG/,
  );
  t.regex(stdout, /challengePassword\s*:open sesame/);
});
