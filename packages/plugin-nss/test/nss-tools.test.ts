import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { NssTools } from '../src/index.js';
import { parseCertList, parseKeyList, pemCertificates, requestSpki } from '../src/nss-tools.js';
import { tempDir } from './support.js';

test('certutil -L rows: nicknames with spaces and commas kept whole; a line that is not a row is set apart', (t) => {
  const out = [
    '',
    'Certificate Nickname                                         Trust Attributes',
    '                                                             SSL,S/MIME,JAR/XPI',
    '',
    'My VPN, work  (2)                                            u,u,u',
    'Some Root CA                                                 CT,C,C',
    'evil',
    'name  u,u,u                                                  u,u,u',
    '',
  ].join('\n');
  const { rows, odd } = parseCertList(out);
  t.deepEqual(rows, [
    { nickname: 'My VPN, work  (2)', trust: 'u,u,u' },
    { nickname: 'Some Root CA', trust: 'CT,C,C' },
    { nickname: 'name  u,u,u', trust: 'u,u,u' },
  ]);
  t.deepEqual(odd, ['evil']);
});

test('certutil -K rows: CKA_ID, type and label; other lines ignored', (t) => {
  const out = [
    'certutil: Checking token "NSS Certificate DB" in slot "NSS User Private Key and Certificate Services"',
    '< 0> rsa      F5E794275E404B463026F591D196F5F47AD8ED00   rsa nick',
    '< 1> ec       0cd7321f8e487b70f3fe44ed5674f6cf7e9efd48   (orphan)',
  ].join('\n');
  t.deepEqual(parseKeyList(out), [
    { type: 'rsa', ckaid: 'f5e794275e404b463026f591d196f5f47ad8ed00', label: 'rsa nick' },
    { type: 'ec', ckaid: '0cd7321f8e487b70f3fe44ed5674f6cf7e9efd48', label: '(orphan)' },
  ]);
});

test('a certificate request that is not one, or is cut short, is refused, not misread', (t) => {
  t.throws(() => requestSpki(new Uint8Array([0x30, 0x05, 0x30])), { message: /truncated/ });
  t.throws(() => requestSpki(new Uint8Array([0x02, 0x01, 0x00])), {
    message: /not a certificate request|truncated/,
  });
  t.throws(() => requestSpki(new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])), { message: /truncated/ });
  t.deepEqual(pemCertificates('no PEM here'), []);
});

test('a tool that does not finish is stopped (E_NSS_TOOL), and a missing one says what to install', async (t) => {
  const bindir = await tempDir(t);
  await writeFile(path.join(bindir, 'certutil'), '#!/bin/sh\nexec sleep 600\n');
  await chmod(path.join(bindir, 'certutil'), 0o755);
  const tools = new NssTools({ bindir, timeoutMs: 300 });
  await t.throwsAsync(tools.run('certutil', ['-L']), {
    code: 'E_NSS_TOOL',
    message: /did not finish/,
  } as never);
  await t.throwsAsync(tools.run('pk12util', ['-l', 'x']), {
    code: 'E_NSS_TOOL',
    message: /missing: install Debian's libnss3-tools/,
  } as never);
});

test('the tools run with a minimal environment: no HOME, no NSS_* variable of the caller', async (t) => {
  const bindir = await tempDir(t);
  await writeFile(path.join(bindir, 'certutil'), '#!/bin/sh\nenv\n');
  await chmod(path.join(bindir, 'certutil'), 0o755);
  process.env.NSS_SDB_USE_CACHE = 'yes';
  t.teardown(() => {
    delete process.env.NSS_SDB_USE_CACHE;
  });
  const out = await new NssTools({ bindir }).run('certutil', []);
  const env = out.stdout
    .toString('utf8')
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('PWD='))
    .sort();
  t.deepEqual(env, ['LC_ALL=C', 'PATH=/usr/bin:/bin']);
});
