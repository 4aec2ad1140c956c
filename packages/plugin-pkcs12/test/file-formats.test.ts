import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HOSTILE_CERTIFICATES, makeHostileCertificate } from '@credroam/core/testing';
import * as asn1js from 'asn1js';
import test from 'ava';
import { pkcs12Kdf } from '../src/formats/pbe.js';
import { DIGESTS } from '../src/formats/pkcs12-algorithms.js';
import { writePkcs12 } from '../src/formats/pkcs12-write.js';
import { readCredentialFiles } from '../src/formats/read-files.js';
import { openssl, opensslCredential, tempDir } from './support.js';

const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
const hex = (s: string) => s.replace(/[:\s]/g, '').toLowerCase();

/** A CA, an intermediate and a leaf with its key, made by openssl in `dir`. */
async function chain(dir: string) {
  const o = (args: string[]) => openssl(args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await writeFile(path.join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n');
  await o([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'root.key',
    '-out',
    'root.pem',
    '-subj',
    '/CN=Root',
    '-days',
    '30',
  ]);
  await o(['req', ...ec, '-keyout', 'int.key', '-out', 'int.csr', '-subj', '/CN=Intermediate']);
  await o([
    'x509',
    '-req',
    '-in',
    'int.csr',
    '-CA',
    'root.pem',
    '-CAkey',
    'root.key',
    '-extfile',
    'ca.ext',
    '-out',
    'int.pem',
    '-days',
    '30',
  ]);
  await o(['req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=leaf']);
  await o([
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'int.pem',
    '-CAkey',
    'int.key',
    '-out',
    'leaf.pem',
    '-days',
    '30',
  ]);
  const der = async (f: string) => {
    await o(['x509', '-in', f, '-outform', 'DER', '-out', `${f}.der`]);
    return new Uint8Array(await readFile(path.join(dir, `${f}.der`)));
  };
  const fp = async (f: string) =>
    hex((await o(['x509', '-in', f, '-noout', '-fingerprint', '-sha256'])).split('=')[1]!);
  await writeFile(path.join(dir, 'pw'), 'chain secret');
  return { o, der, leaf: await fp('leaf.pem'), int: await fp('int.pem'), root: await fp('root.pem') };
}

test("PKCS#12's key derivation equals OpenSSL's (openssl kdf PKCS12KDF) for every MAC digest, several blocks long", async (t) => {
  const dir = await tempDir(t);
  const salt = randomBytes(8);
  const password = Buffer.from('0070003f00e40000', 'hex'); // "p?ä" as PKCS#12 passes it
  for (const digest of DIGESTS.values()) {
    for (const id of [1, 3] as const) {
      const length = digest.u * 2 + 5;
      const ours = pkcs12Kdf(digest, password, salt, id, 7, length).toString('hex');
      const theirs = await openssl(
        [
          'kdf',
          '-keylen',
          String(length),
          '-kdfopt',
          `digest:${digest.name.toUpperCase()}`,
          '-kdfopt',
          `hexpass:${password.toString('hex')}`,
          '-kdfopt',
          `hexsalt:${salt.toString('hex')}`,
          '-kdfopt',
          'iter:7',
          '-kdfopt',
          `id:${id}`,
          'PKCS12KDF',
        ],
        { cwd: dir },
      );
      t.is(ours, hex(theirs), `${digest.name} id ${id}`);
    }
  }
});

test('a PKCS#12 with -chain and -name: the chain (issuer first) and the friendly name come with the credential', async (t) => {
  const dir = await tempDir(t);
  const c = await chain(dir);
  // openssl takes one -certfile: the CA certificates go in one file.
  const cas = await Promise.all(['root.pem', 'int.pem'].map((f) => readFile(path.join(dir, f), 'utf8')));
  await writeFile(path.join(dir, 'cas.pem'), cas.join(''));
  await c.o([
    'pkcs12',
    '-export',
    '-in',
    'leaf.pem',
    '-inkey',
    'leaf.key',
    '-certfile',
    'cas.pem',
    '-name',
    'VPN — Zürich',
    '-out',
    'c.p12',
    '-passout',
    'file:pw',
  ]);
  const r = await readCredentialFiles([await readFile(path.join(dir, 'c.p12'))], 'chain secret');
  t.is(r.credentials.length, 1);
  const [cred] = r.credentials;
  t.is(sha256(cred!.cert), c.leaf);
  t.deepEqual(cred!.chain?.map(sha256), [c.int, c.root]);
  t.is(cred!.friendlyName, 'VPN — Zürich');
  t.is(r.ignoredCertificates, 0);
});

test('what credroam writes carries the chain and the friendly name: openssl lists all three certificates and the name', async (t) => {
  const dir = await tempDir(t);
  const c = await chain(dir);
  const [cred] = (
    await readCredentialFiles(
      [
        await readFile(path.join(dir, 'leaf.pem')),
        await readFile(path.join(dir, 'leaf.key')),
        await readFile(path.join(dir, 'int.pem')),
        await readFile(path.join(dir, 'root.pem')),
      ],
      undefined,
    )
  ).credentials;
  t.deepEqual(cred!.chain?.map(sha256), [c.int, c.root]);
  await writeFile(
    path.join(dir, 'out.p12'),
    // OpenSSL 3.0 prints a BMPString friendly name byte by byte: the name it checks is ASCII.
    await writePkcs12({ ...cred!, friendlyName: 'Mail' }, 'chain secret'),
  );
  const info = await c.o(['pkcs12', '-in', 'out.p12', '-passin', 'file:pw', '-nokeys']);
  t.is(info.match(/-----BEGIN CERTIFICATE-----/g)?.length, 3);
  t.regex(info, /friendlyName: Mail\n/);
  const again = await readCredentialFiles([await readFile(path.join(dir, 'out.p12'))], 'chain secret');
  t.deepEqual(again.credentials[0]!.chain?.map(sha256), [c.int, c.root]);
  t.is(again.credentials[0]!.friendlyName, 'Mail');
  await writeFile(
    path.join(dir, 'out2.p12'),
    await writePkcs12({ ...cred!, friendlyName: 'Mail ✉ Zürich' }, 'chain secret'),
  );
  const named = await readCredentialFiles([await readFile(path.join(dir, 'out2.p12'))], 'chain secret');
  t.is(named.credentials[0]!.friendlyName, 'Mail ✉ Zürich');
});

test('what credroam writes is DER with primitive OCTET STRINGs only (GnuTLS reads no other), the certificate byte for byte', async (t) => {
  const dir = await tempDir(t);
  const a = await opensslCredential(dir, { key: 'rsa' });
  const [cred] = (await readCredentialFiles([a.p12], 'p12-secret')).credentials;
  const out = await writePkcs12({ ...cred!, chain: [cred!.cert] }, 'x');
  const constructed: string[] = [];
  const walk = (b: asn1js.BaseBlock, where: string) => {
    if (b instanceof asn1js.OctetString && b.idBlock.isConstructed) constructed.push(where);
    if (b.lenBlock?.isIndefiniteForm) constructed.push(`${where} (indefinite length)`);
    const inner = (b as asn1js.Constructed).valueBlock?.value;
    if (Array.isArray(inner)) {
      for (const [i, v] of inner.entries()) walk(v, `${where}/${i}`);
    }
  };
  walk(asn1js.fromBER(out).result, '');
  t.deepEqual(constructed, []);
  t.true(Buffer.from(out).includes(Buffer.from(cred!.key!)) === false, 'the key is never in clear');
  const [back] = (await readCredentialFiles([out], 'x')).credentials;
  t.is(sha256(back!.cert), a.fingerprint);
});

test('certificates are told by content: DER, PEM (CERTIFICATE, X509 CERTIFICATE, CRLF, text around), TRUSTED CERTIFICATE, PKCS#7 in DER and PEM', async (t) => {
  const dir = await tempDir(t);
  const c = await chain(dir);
  const pem = await readFile(path.join(dir, 'leaf.pem'), 'utf8');
  await c.o(['x509', '-in', 'leaf.pem', '-trustout', '-addtrust', 'clientAuth', '-out', 'trusted.pem']);
  await c.o([
    'crl2pkcs7',
    '-nocrl',
    '-certfile',
    'leaf.pem',
    '-certfile',
    'int.pem',
    '-outform',
    'DER',
    '-out',
    'b.p7b',
  ]);
  await c.o(['crl2pkcs7', '-nocrl', '-certfile', 'leaf.pem', '-certfile', 'int.pem', '-out', 'b.p7b.pem']);
  const cases: Array<[string, Uint8Array, number]> = [
    ['DER', await c.der('leaf.pem'), 0],
    ['X509 CERTIFICATE', Buffer.from(pem.replace(/(BEGIN|END) CERTIFICATE/g, '$1 X509 CERTIFICATE')), 0],
    [
      'CRLF with text before',
      Buffer.from(`subject=CN = leaf\r\n${pem.replace(/\n/g, '\r\n')}trailing words\r\n`),
      0,
    ],
    ['TRUSTED CERTIFICATE', await readFile(path.join(dir, 'trusted.pem')), 0],
    ['PKCS#7 DER', await readFile(path.join(dir, 'b.p7b')), 1],
    ['PKCS#7 PEM', await readFile(path.join(dir, 'b.p7b.pem')), 1],
  ];
  for (const [name, data, chainLength] of cases) {
    const r = await readCredentialFiles([data], undefined);
    t.is(r.credentials.length, 1, name);
    t.is(sha256(r.credentials[0]!.cert), c.leaf, name);
    t.is(r.credentials[0]!.chain?.length ?? 0, chainLength, name);
  }
  const trusted = await readCredentialFiles([await readFile(path.join(dir, 'trusted.pem'))], undefined);
  t.regex(trusted.notices.join(), /trust settings .* not imported/);
});

test('a DER certificate and a DER PKCS#8 key, two files, are one credential; junk is a clear error naming the forms read', async (t) => {
  const dir = await tempDir(t);
  const c = await chain(dir);
  await c.o(['pkcs8', '-topk8', '-nocrypt', '-in', 'leaf.key', '-outform', 'DER', '-out', 'leaf.p8']);
  await c.o([
    'pkcs8',
    '-topk8',
    '-in',
    'leaf.key',
    '-outform',
    'DER',
    '-out',
    'leaf.enc.p8',
    '-passout',
    'file:pw',
  ]);
  const cert = await c.der('leaf.pem');
  for (const [file, password] of [
    ['leaf.p8', undefined],
    ['leaf.enc.p8', 'chain secret'],
  ] as const) {
    const r = await readCredentialFiles([cert, await readFile(path.join(dir, file))], password);
    t.is(sha256(r.credentials[0]!.cert), c.leaf, file);
    t.truthy(r.credentials[0]!.key, file);
  }
  await t.throwsAsync(readCredentialFiles([cert, await readFile(path.join(dir, 'leaf.enc.p8'))], undefined), {
    code: 'E_PASSWORD_REQUIRED',
  } as never);
  await t.throwsAsync(readCredentialFiles([randomBytes(200)], undefined), {
    code: 'E_IMPORT',
    message: /not one credroam reads, or it is damaged: give a PKCS#12/,
  } as never);
});

test('no MAC: a wrong password is called wrong (nothing decrypts), the right one imports with a notice', async (t) => {
  const dir = await tempDir(t);
  const a = await opensslCredential(dir, { extra: ['-nomac'] });
  await t.throwsAsync(readCredentialFiles([a.p12], 'not it'), {
    code: 'E_PKCS12_PASSWORD',
    message: /does not decrypt \(the file has no MAC/,
  } as never);
  const r = await readCredentialFiles([a.p12], 'p12-secret');
  t.is(sha256(r.credentials[0]!.cert), a.fingerprint);
  t.deepEqual(r.notices, ['the file has no MAC: its integrity could not be checked']);
});

test('the key derivations of a whole file are bounded in total, not only each one', async (t) => {
  const dir = await tempDir(t);
  const a = await opensslCredential(dir, { extra: ['-iter', '300000'] });
  // MAC 300 000 + two PBES2 derivations of 300 000 each: within 4 × 300 000 ...
  t.is((await readCredentialFiles([a.p12], 'p12-secret', { maxIterations: 300_000 })).credentials.length, 1);
  // A wrong password costs three MAC tries (given, empty, none): still within the total ...
  await t.throwsAsync(readCredentialFiles([a.p12], 'not it', { maxIterations: 300_000 }), {
    code: 'E_PKCS12_PASSWORD',
  } as never);
  // ... and a bound below one derivation refuses before deriving anything.
  await t.throwsAsync(readCredentialFiles([a.p12], 'p12-secret', { maxIterations: 250_000 }), {
    code: 'E_PKCS12_ITERATIONS',
  } as never);
});

test('a friendly name with terminal escapes or bidirectional overrides is cleaned before it can roam, with a notice', async (t) => {
  const dir = await tempDir(t);
  const a = await opensslCredential(dir, { extra: ['-name', '\u001b[2Jpay\u202Egnp.exe'] });
  const r = await readCredentialFiles([a.p12], 'p12-secret');
  t.is(r.credentials[0]!.friendlyName, '[2Jpaygnp.exe');
  t.true(
    r.notices.includes('the friendly name was cleaned of control characters, or shortened to 256 characters'),
  );
});

test('certificates Node cannot fully describe import from files, beside a credential with a key, never paired with it', async (t) => {
  const dir = await tempDir(t);
  const a = await opensslCredential(dir);
  for (const kind of HOSTILE_CERTIFICATES) {
    const hostile = await makeHostileCertificate(dir, kind);
    const alone = await readCredentialFiles([await readFile(hostile.pem)], undefined);
    t.is(sha256(alone.credentials[0]!.cert), hostile.sha256, kind);
    const beside = await readCredentialFiles(
      [Buffer.from(a.certPem + (await readFile(hostile.pem, 'utf8'))), Buffer.from(a.keyPem)],
      undefined,
    );
    t.is(beside.credentials.length, 1, kind);
    t.is(sha256(beside.credentials[0]!.cert), a.fingerprint, kind);
    t.is(beside.ignoredCertificates, 1, kind);
  }
});

test('an encrypted PKCS#8 key under scrypt imports; one whose scrypt asks for too much work or memory is refused first', async (t) => {
  const dir = await tempDir(t);
  const c = await chain(dir);
  await c.o([
    'pkcs8',
    '-topk8',
    '-scrypt',
    '-in',
    'leaf.key',
    '-out',
    'leaf.scrypt.pem',
    '-passout',
    'file:pw',
  ]);
  const r = await readCredentialFiles(
    [await readFile(path.join(dir, 'leaf.pem')), await readFile(path.join(dir, 'leaf.scrypt.pem'))],
    'chain secret',
  );
  t.is(sha256(r.credentials[0]!.cert), c.leaf);
  t.truthy(r.credentials[0]!.key);
  // Made with openssl's ASN.1 generator: OpenSSL itself refuses to write such parameters, and the
  // refusal must come before any derivation (the encrypted bytes are junk).
  const epki = (N: number, r: number, p: number) => `asn1=SEQUENCE:epki
[epki]
alg=SEQUENCE:alg
data=FORMAT:HEX,OCTETSTRING:00112233445566778899AABBCCDDEEFF
[alg]
oid=OID:PBES2
params=SEQUENCE:pbes2
[pbes2]
kdf=SEQUENCE:kdf
enc=SEQUENCE:enc
[kdf]
oid=OID:id-scrypt
p=SEQUENCE:sp
[sp]
salt=FORMAT:HEX,OCTETSTRING:0011223344556677
N=INTEGER:${N}
r=INTEGER:${r}
p=INTEGER:${p}
[enc]
oid=OID:aes-256-cbc
iv=FORMAT:HEX,OCTETSTRING:00112233445566778899AABBCCDDEEFF
`;
  for (const [N, r, p, message] of [
    [16384, 8, 200, /N·r·p = 26214400; the limit is 16777216/],
    [1048576, 8, 1, /1024 MiB; the limit is 256 MiB/],
    [1000, 8, 1, /N = 1000, not a power of two/],
  ] as const) {
    await writeFile(path.join(dir, 'bomb.cnf'), epki(N, r, p));
    await c.o(['asn1parse', '-genconf', 'bomb.cnf', '-noout', '-out', 'bomb.der']);
    await t.throwsAsync(
      readCredentialFiles(
        [await c.der('leaf.pem'), await readFile(path.join(dir, 'bomb.der'))],
        'chain secret',
      ),
      { code: 'E_PKCS12_ITERATIONS', message } as never,
    );
  }
});
