import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { distinguishedNameDer, parseDistinguishedName } from '@credroam/core/kit';
import test from 'ava';
import * as pkijs from 'pkijs';
import { generalNames } from '../src/alt-names.js';
import { certificationRequest } from '../src/csr.js';
import { rsaKey } from '../src/request-key.js';

const run = promisify(execFile);

test("the CSR, read by openssl: signature, subject in RFC 4514's reverse order, SANs (UPN as otherName), challengePassword", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'credroam-csr-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = rsaKey(
    { privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })) },
    'p',
  );
  const parsed = parseDistinguishedName('CN=alice,OU=Staff+L=Paris,O=Example,C=FR');
  if (!parsed.ok) return t.fail(parsed.reason);
  const names = generalNames([
    { type: 'email', value: 'alice@example.org' },
    { type: 'dns', value: 'alice.example.org' },
    { type: 'uri', value: 'https://example.org/alice' },
    { type: 'upn', value: 'alice@EXAMPLE.ORG' },
  ]);
  if (!names.ok) return t.fail(names.reason);
  const der = certificationRequest(
    {
      subject: pkijs.RelativeDistinguishedNames.fromBER(distinguishedNameDer(parsed.rdns)),
      altNames: names.der,
      challenge: 'open sesame',
    },
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
