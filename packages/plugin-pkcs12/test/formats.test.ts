import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { readPkcs12 } from '../src/formats/pkcs12.js';
import { writePkcs12 } from '../src/formats/pkcs12-write.js';
import { readCredentialFiles } from '../src/formats/read-files.js';
import { openssl, opensslCredential, tempDir } from './support.js';

const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
const readPem = (texts: readonly string[], password: string | undefined) =>
  readCredentialFiles(
    texts.map((text) => new TextEncoder().encode(text)),
    password,
  );

for (const key of ['rsa', 'ec'] as const) {
  test(`a PKCS#12 made by openssl with its defaults (${key}) is read: the certificate and the key that matches it`, async (t) => {
    const dir = await tempDir(t);
    const c = await opensslCredential(dir, { key });
    const result = await readPkcs12(c.p12, 'p12-secret');
    t.is(result.credentials.length, 1);
    t.is(sha256(result.credentials[0]!.cert), c.fingerprint);
    t.truthy(result.credentials[0]!.key);
  });
}

test('what credroam writes, openssl opens without -legacy: same certificate, a key that matches it', async (t) => {
  const dir = await tempDir(t);
  const c = await opensslCredential(dir, { key: 'rsa' });
  const [cred] = (await readPkcs12(c.p12, 'p12-secret')).credentials;
  await writeFile(
    path.join(dir, 'out.p12'),
    await writePkcs12({ ...cred!, friendlyName: 'alice' }, 'exported pass'),
  );
  await writeFile(path.join(dir, 'out.pass'), 'exported pass');
  const info = await openssl(['pkcs12', '-in', 'out.p12', '-passin', 'file:out.pass', '-info', '-noout'], {
    cwd: dir,
  }).catch((e: { stderr: string }) => e.stderr);
  const certOut = await openssl(
    ['pkcs12', '-in', 'out.p12', '-passin', 'file:out.pass', '-nokeys', '-out', 'cert.pem'],
    { cwd: dir },
  );
  t.is(certOut, '');
  const fp = await openssl(['x509', '-in', 'cert.pem', '-noout', '-fingerprint', '-sha256'], { cwd: dir });
  t.is(fp.split('=')[1]!.trim().replace(/:/g, '').toLowerCase(), c.fingerprint);
  await openssl(
    ['pkcs12', '-in', 'out.p12', '-passin', 'file:out.pass', '-nocerts', '-nodes', '-out', 'key.pem'],
    { cwd: dir },
  );
  const pub = await openssl(['pkey', '-in', 'key.pem', '-pubout'], { cwd: dir });
  const certPub = await openssl(['x509', '-in', 'cert.pem', '-pubkey', '-noout'], { cwd: dir });
  t.is(pub, certPub);
  t.notRegex(String(info), /RC2|3DES|pbeWithSHA1/i);
});

test('the exported file is PBES2 with PBKDF2-SHA256 and AES-256-CBC, with an HMAC-SHA256 MAC', async (t) => {
  const dir = await tempDir(t);
  const c = await opensslCredential(dir);
  const [cred] = (await readPkcs12(c.p12, 'p12-secret')).credentials;
  await writeFile(path.join(dir, 'out.p12'), await writePkcs12(cred!, 'x'));
  await writeFile(path.join(dir, 'x.pass'), 'x');
  const { execFile } = await import('node:child_process');
  const info = await new Promise<string>((resolve) =>
    execFile(
      'openssl',
      ['pkcs12', '-in', 'out.p12', '-passin', 'file:x.pass', '-info', '-nokeys', '-nocerts'],
      { cwd: dir },
      (_e, o, err) => resolve(`${o}${err}`),
    ),
  );
  t.regex(info, /MAC: sha256/);
  t.regex(info, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 100000, PRF hmacWithSHA256/);
  t.regex(info, /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 100000, PRF hmacWithSHA256/);
});

test('a wrong password is a clear error', async (t) => {
  const dir = await tempDir(t);
  const c = await opensslCredential(dir);
  await t.throwsAsync(readPkcs12(c.p12, 'not it'), {
    code: 'E_PKCS12_PASSWORD',
    message: /wrong password/,
  } as never);
});

test('a truncated file is a clear error', async (t) => {
  const dir = await tempDir(t);
  const c = await opensslCredential(dir);
  await t.throwsAsync(readPkcs12(c.p12.subarray(0, c.p12.length - 40), 'p12-secret'), {
    code: 'E_PKCS12_MALFORMED',
  } as never);
  await t.throwsAsync(readPkcs12(new TextEncoder().encode('hello'), 'p12-secret'), {
    code: 'E_PKCS12_MALFORMED',
  } as never);
});

test('a legacy (RC2/3DES) file is imported, with a notice naming what was read', async (t) => {
  const dir = await tempDir(t);
  const c = await opensslCredential(dir, { extra: ['-legacy'] });
  const result = await readPkcs12(c.p12, 'p12-secret');
  t.is(sha256(result.credentials[0]!.cert), c.fingerprint);
  t.truthy(result.credentials[0]!.key);
  t.true(
    result.notices.some((n) => /legacy encryption: pbeWithSHAAnd40BitRC2-CBC/.test(n)),
    result.notices.join('; '),
  );
  t.true(
    result.notices.some((n) => /legacy encryption: pbeWithSHAAnd3-KeyTripleDES-CBC/.test(n)),
    result.notices.join('; '),
  );
});

test('an iteration count above the bound is refused before any key derivation', async (t) => {
  const dir = await tempDir(t);
  const c = await opensslCredential(dir, { extra: ['-iter', '50000'] });
  await t.throwsAsync(readPkcs12(c.p12, 'p12-secret', { maxIterations: 10_000 }), {
    code: 'E_PKCS12_ITERATIONS',
    message: /asks for 50000 iterations; the limit is 10000/,
  } as never);
});

test('PEM: a certificate and its key are paired; a key that matches no certificate is refused', async (t) => {
  const dir = await tempDir(t);
  const a = await opensslCredential(dir, { name: 'a' });
  const b = await opensslCredential(dir, { name: 'b' });
  const ok = await readPem([a.certPem, a.keyPem], undefined);
  t.is(sha256(ok.credentials[0]!.cert), a.fingerprint);
  await t.throwsAsync(readPem([a.certPem, b.keyPem], undefined), { code: 'E_KEY_MISMATCH' } as never);
});

test('PEM that does not read gives the project’s own errors, never a raw OpenSSL one', async (t) => {
  const dir = await tempDir(t);
  const a = await opensslCredential(dir, { name: 'a', key: 'rsa' });
  const damaged = a.certPem.replace(/\n([A-Za-z0-9+/]{20})/, '\n!!!!$1');
  const raw = /error:[0-9A-F]{8}|routines::/;
  const cert = await t.throwsAsync(readPem([damaged, a.keyPem], undefined), { code: 'E_PEM' } as never);
  t.regex(cert?.message ?? '', /CERTIFICATE block's base64 is damaged/);
  t.notRegex(cert?.message ?? '', raw);
  await writeFile(path.join(dir, 'kpw'), 'key secret');
  // An encrypted PKCS#8 key, and a traditional (Proc-Type) encrypted RSA key, by openssl.
  await openssl(['pkcs8', '-topk8', '-in', 'a.key.pem', '-out', 'enc.pem', '-passout', 'file:kpw'], {
    cwd: dir,
  });
  await openssl(
    ['rsa', '-in', 'a.key.pem', '-aes256', '-traditional', '-out', 'trad.pem', '-passout', 'file:kpw'],
    {
      cwd: dir,
    },
  );
  const { readFile } = await import('node:fs/promises');
  for (const file of ['enc.pem', 'trad.pem']) {
    const key = await readFile(path.join(dir, file), 'utf8');
    t.truthy((await readPem([a.certPem, key], 'key secret')).credentials[0]?.key, file);
    const wrong = await t.throwsAsync(readPem([a.certPem, key], 'not it'));
    t.is((wrong as { code?: string }).code, 'E_WRONG_PASSWORD', `${file}: ${wrong?.message}`);
    t.notRegex(wrong?.message ?? '', raw);
    const none = await t.throwsAsync(readPem([a.certPem, key], undefined));
    t.is((none as { code?: string }).code, 'E_PASSWORD_REQUIRED', `${file}: ${none?.message}`);
  }
  const garbage = '-----BEGIN PRIVATE KEY-----\nAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n';
  const bad = await t.throwsAsync(readPem([a.certPem, garbage], undefined), { code: 'E_PEM' } as never);
  t.notRegex(bad?.message ?? '', raw);
});
