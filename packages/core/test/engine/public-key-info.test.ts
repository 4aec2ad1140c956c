import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import fc from 'fast-check';
import { children, element, encode } from '../../src/engine/der.js';
import { checkedPrivateKeyId, exportedPublicKeyInfo, privateKeyId } from '../../src/engine/key-id.js';
import { exportedFormOf, publicKeyInfoOfPkcs8 } from '../../src/engine/public-key-info.js';
import { describeCertificate } from '../../src/index.js';
import { opensslCredential } from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

/**
 * Decision 029: a private key's SubjectPublicKeyInfo taken from its own bytes must be, byte for
 * byte, what OpenSSL exports after reading the key, for every key OpenSSL reads: the key's id is
 * how its certificate finds it, on every endpoint of the user.
 */

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const pkcs8Of = (type: string, options: object): Buffer =>
  (generateKeyPairSync as (t: string, o: object) => { privateKey: KeyObject })(
    type,
    options,
  ).privateKey.export({
    type: 'pkcs8',
    format: 'der',
  });
const opensslId = (pkcs8: Uint8Array): string => sha256(exportedPublicKeyInfo(pkcs8));

/** The key types the reader takes from the bytes, and those it leaves to OpenSSL. */
const READ: ReadonlyArray<[string, object]> = [
  ['ec', { namedCurve: 'P-256' }],
  ['ec', { namedCurve: 'P-384' }],
  ['ec', { namedCurve: 'P-521' }],
  ['rsa', { modulusLength: 1024 }],
  ['rsa', { modulusLength: 2048, publicExponent: 3 }],
];
const LEFT_TO_OPENSSL: ReadonlyArray<[string, object]> = [
  ['ed25519', {}],
  ['ed448', {}],
  ['x25519', {}],
  ['rsa-pss', { modulusLength: 1024 }],
  ['dsa', { modulusLength: 1024, divisorLength: 160 }],
];

test('keys Node makes: the SubjectPublicKeyInfo read from an EC or RSA key is the one OpenSSL exports; other types are left to OpenSSL', (t) => {
  for (const [type, options] of READ) {
    for (let i = 0; i < 10; i++) {
      const key = pkcs8Of(type, options);
      const spki = publicKeyInfoOfPkcs8(key);
      t.truthy(spki, `${type} ${JSON.stringify(options)} is read from its bytes`);
      t.deepEqual(Buffer.from(spki!), exportedPublicKeyInfo(key));
      t.is(privateKeyId(key), opensslId(key));
    }
  }
  for (const [type, options] of LEFT_TO_OPENSSL) {
    const key = pkcs8Of(type, options);
    t.is(publicKeyInfoOfPkcs8(key), undefined, `${type} is left to OpenSSL`);
    t.is(privateKeyId(key), opensslId(key));
  }
});

test('keys in the forms OpenSSL can write them: compressed point, explicit curve, no public key, three primes; each id is OpenSSL’s', async (t) => {
  const dir = await tempDir(t);
  const run = promisify(execFile);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ec.pem');
  const forms: Record<string, string[]> = {
    compressed: ['ec', '-in', 'ec.pem', '-conv_form', 'compressed', '-out', 'form.pem'],
    explicit: ['ec', '-in', 'ec.pem', '-param_enc', 'explicit', '-out', 'form.pem'],
    'no public key': ['ec', '-in', 'ec.pem', '-no_public', '-out', 'form.pem'],
    'three primes': [
      'genpkey',
      '-algorithm',
      'RSA',
      '-pkeyopt',
      'rsa_keygen_bits:2048',
      '-pkeyopt',
      'rsa_keygen_primes:3',
      '-out',
      'form.pem',
    ],
  };
  for (const [form, args] of Object.entries(forms)) {
    await openssl(...args);
    await openssl('pkcs8', '-topk8', '-nocrypt', '-in', 'form.pem', '-outform', 'DER', '-out', 'form.p8');
    const key = await readFile(path.join(dir, 'form.p8'));
    t.is(publicKeyInfoOfPkcs8(key), undefined, `${form}: left to OpenSSL`);
    t.is(privateKeyId(key), opensslId(key), form);
  }
  // The uncompressed form of the same key is read from its bytes, with OpenSSL's id.
  await openssl('pkcs8', '-topk8', '-nocrypt', '-in', 'ec.pem', '-outform', 'DER', '-out', 'ec.p8');
  const key = await readFile(path.join(dir, 'ec.p8'));
  t.truthy(publicKeyInfoOfPkcs8(key));
  t.is(privateKeyId(key), opensslId(key));
});

/** Where an EC key's stored public point lies in its PKCS#8 (the BIT STRING's content after 00 04). */
function pointRange(key: Uint8Array, size: number): [number, number] {
  const end = key.length; // the [1] public key is the last part of the ECPrivateKey, the last of the key
  return [end - 2 * size, end];
}

test('a key whose stored public point is another key’s: both readings take the stored point, as OpenSSL does', (t) => {
  const a = pkcs8Of('ec', { namedCurve: 'P-256' });
  const b = pkcs8Of('ec', { namedCurve: 'P-256' });
  const [from, to] = pointRange(a, 32);
  const crossed = Buffer.concat([a.subarray(0, from), b.subarray(from, to)]);
  t.is(opensslId(crossed), opensslId(b));
  t.is(privateKeyId(crossed), opensslId(b));
});

test('property: any damaged key OpenSSL reads has OpenSSL’s id; what only this reading takes is an EC key whose point was damaged', (t) => {
  const keys = [
    { key: pkcs8Of('ec', { namedCurve: 'P-256' }), size: 32 },
    { key: pkcs8Of('ec', { namedCurve: 'P-384' }), size: 48 },
    { key: pkcs8Of('rsa', { modulusLength: 1024 }), size: 0 },
  ];
  let agreed = 0;
  fc.assert(
    fc.property(
      fc.constantFrom(...keys),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
      ({ key, size }, changes) => {
        const damaged = Buffer.from(key);
        const at = changes.map(([i, byte]) => {
          damaged[i % damaged.length] = byte;
          return i % damaged.length;
        });
        const spki = publicKeyInfoOfPkcs8(damaged);
        let exported: Uint8Array | undefined;
        try {
          exported = exportedPublicKeyInfo(damaged);
        } catch {}
        if (spki && exported) {
          agreed++;
          return Buffer.from(spki).equals(Buffer.from(exported));
        }
        if (spki) {
          // OpenSSL refuses it, this reading does not: only a point no longer on its curve.
          const [from, to] = pointRange(key, size);
          return size > 0 && at.some((i) => i >= from && i < to && damaged[i] !== key[i]);
        }
        return true;
      },
    ),
    { numRuns: 3000 },
  );
  t.true(agreed > 500, `${agreed} damaged keys read both ways`);
});

test('a key from outside is read by OpenSSL: an EC point off its curve is refused there, though its id can be taken from its bytes', (t) => {
  const key = pkcs8Of('ec', { namedCurve: 'P-256' });
  const offCurve = Buffer.from(key);
  const last = offCurve.length - 1;
  offCurve[last] = offCurve[last]! ^ 1; // y ± 1: not on the curve
  t.truthy(publicKeyInfoOfPkcs8(offCurve));
  t.throws(() => checkedPrivateKeyId(offCurve));
  t.throws(() => exportedPublicKeyInfo(offCurve));
  t.is(checkedPrivateKeyId(key), opensslId(key));
});

test('bytes that are no key: an error, from either reading', (t) => {
  for (const bytes of [
    new Uint8Array(0),
    Uint8Array.of(0x30, 0x00),
    Uint8Array.of(0x30, 0x80, 0, 0),
    new Uint8Array(64),
  ]) {
    t.is(publicKeyInfoOfPkcs8(bytes), undefined);
    t.throws(() => privateKeyId(bytes));
  }
});

/**
 * A key's DER as a tree (the PKCS#8's OCTET STRING holding the inner key as a tree too), put
 * together again with one element's header written another way OpenSSL also reads (not DER: a long
 * or zero-padded length, the tag in the high-tag-number form).
 */
interface Node {
  tag: number[];
  content: Uint8Array;
  kids?: Node[];
  /** The OCTET STRING that holds the inner key (its one kid). */
  holds?: boolean;
  length?: (n: number) => number[];
}
function tree(bytes: Uint8Array, holdsAt = -1): Node {
  const e = element(bytes)!;
  if (!e.constructed) return { tag: [bytes[0]!], content: e.content };
  const kids = children(e.content)!.map(
    (c, i): Node =>
      i === holdsAt
        ? { tag: [c.bytes[0]!], content: c.content, kids: [tree(c.content)], holds: true }
        : tree(c.bytes),
  );
  return { tag: [bytes[0]!], content: e.content, kids };
}
function build(n: Node): Uint8Array {
  const body = n.kids ? Buffer.concat(n.kids.map(build)) : Buffer.from(n.content);
  const minimal = Buffer.from(encode(0, body));
  const header = n.length
    ? [0x80 | n.length(body.length).length, ...n.length(body.length)]
    : [...minimal.subarray(1, minimal.length - body.length)];
  return Buffer.concat([Buffer.from([...n.tag, ...header]), body]);
}
const bytesOf = (n: number, count: number): number[] =>
  Array.from({ length: count }, (_, i) => Math.floor(n / 256 ** (count - 1 - i)) % 256);

test('a key whose exported parts have headers that are not DER (OpenSSL reads them, and writes DER back): OpenSSL’s id, never the bytes as they are', (t) => {
  const ec = pkcs8Of('ec', { namedCurve: 'P-256' });
  const rsa = pkcs8Of('rsa', { modulusLength: 1024 });
  const inner = (r: Node) => r.kids![2]!.kids![0]!;
  const at: Array<[string, Buffer, (root: Node) => Node]> = [
    ['EC AlgorithmIdentifier', ec, (r) => r.kids![1]!],
    ['EC public key BIT STRING', ec, (r) => inner(r).kids![2]!.kids![0]!],
    ['RSA AlgorithmIdentifier', rsa, (r) => r.kids![1]!],
    ['RSA modulus', rsa, (r) => inner(r).kids![1]!],
    ['RSA exponent', rsa, (r) => inner(r).kids![2]!],
  ];
  const forms: Array<[string, (n: Node) => void]> = [
    // A length below 128 in the long form; one above, in a byte more than it needs.
    ['long form', (n) => (n.length = (l) => bytesOf(l, l < 128 ? 1 : l < 256 ? 2 : 3))],
    ['leading zero', (n) => (n.length = (l) => [0, ...bytesOf(l, l < 256 ? 1 : 2)])],
    ['four length bytes', (n) => (n.length = (l) => bytesOf(l, 4))],
    ['high tag number', (n) => (n.tag = [n.tag[0]! | 0x1f, n.tag[0]! & 0x1f])],
  ];
  for (const [part, key, find] of at) {
    t.true(Buffer.from(build(tree(key, 2))).equals(key), `${part}: the tree gives the key back`);
    for (const [form, change] of forms) {
      const root = tree(key, 2);
      change(find(root));
      const changed = build(root);
      t.false(Buffer.from(changed).equals(key), `${part}, ${form}: changed`);
      const exported = exportedPublicKeyInfo(changed); // OpenSSL reads it
      const spki = publicKeyInfoOfPkcs8(changed);
      t.true(spki === undefined || Buffer.from(spki).equals(exported), `${part}, ${form}`);
      t.is(privateKeyId(changed), sha256(exported), `${part}, ${form}`);
    }
  }
});

// --- a certificate's key (describeCertificate): its SubjectPublicKeyInfo taken as it is when it is
// in the form OpenSSL writes, else exported by OpenSSL; the key id is the same either way.

/** A certificate made by OpenSSL, to carry other SubjectPublicKeyInfos (its signature is not checked). */
const baseCertificate = async (dir: string): Promise<Uint8Array> =>
  (await opensslCredential(dir, 'carrier')).cert.content;

/** `der` with its SubjectPublicKeyInfo (the TBSCertificate's sixth item after the version) replaced. */
function withPublicKeyInfo(der: Uint8Array, spki: Uint8Array): Uint8Array {
  const [tbs, ...rest] = children(element(der)!.content)!;
  const items = children(tbs!.content)!.map((e) => e.bytes);
  items[1 + 5] = spki; // [0] version, serial, signature, issuer, validity, subject, spki
  return encode(0x30, encode(0x30, ...items), ...rest.map((e) => e.bytes));
}

/** The key id OpenSSL gives a certificate's key: its SubjectPublicKeyInfo, read and exported. */
const certificateKeyId = (der: Uint8Array): string =>
  sha256(new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' }));

const publicKeyInfoOf = (type: string, options: object): Buffer =>
  (generateKeyPairSync as (t: string, o: object) => { publicKey: KeyObject })(type, options).publicKey.export(
    {
      type: 'spki',
      format: 'der',
    },
  );

test('certificates with the keys Node makes: an EC or RSA key is taken as it is, the others are exported; OpenSSL’s key id either way', async (t) => {
  const base = await baseCertificate(await tempDir(t));
  for (const [type, options] of [...READ, ...LEFT_TO_OPENSSL]) {
    const spki = publicKeyInfoOf(type, options);
    const der = withPublicKeyInfo(base, spki);
    t.is(exportedFormOf(spki), READ.some(([r]) => r === type) ? (type as 'ec' | 'rsa') : undefined, type);
    t.is(describeCertificate(der).keyId, certificateKeyId(der), type);
    t.deepEqual(describeCertificate(der).unreadable, [], type);
  }
});

test('certificates whose key OpenSSL writes in another form (compressed point, explicit curve) or with headers that are not DER: OpenSSL’s key id', async (t) => {
  const dir = await tempDir(t);
  const base = await baseCertificate(dir);
  const run = promisify(execFile);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir, encoding: 'buffer' });
  await openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ec.pem');
  const forms: Array<[string, Uint8Array]> = [];
  for (const [form, option] of [
    ['compressed', ['-conv_form', 'compressed']],
    ['explicit', ['-param_enc', 'explicit']],
  ] as const) {
    const { stdout } = await openssl('ec', '-in', 'ec.pem', ...option, '-pubout', '-outform', 'DER');
    forms.push([form, new Uint8Array(stdout)]);
  }
  const ec = publicKeyInfoOf('ec', { namedCurve: 'P-256' });
  const rsa = publicKeyInfoOf('rsa', { modulusLength: 1024 });
  const headers: Array<[string, (n: Node) => void]> = [
    ['long form', (n) => (n.length = (l) => bytesOf(l, l < 128 ? 1 : l < 256 ? 2 : 3))],
    ['leading zero', (n) => (n.length = (l) => [0, ...bytesOf(l, l < 256 ? 1 : 2)])],
  ];
  for (const [name, spki] of [
    ['EC', ec],
    ['RSA', rsa],
  ] as const) {
    for (const [part, find] of [
      ['SubjectPublicKeyInfo', (r: Node) => r],
      ['AlgorithmIdentifier', (r: Node) => r.kids![0]!],
      ['its OID', (r: Node) => r.kids![0]!.kids![0]!],
      ['BIT STRING', (r: Node) => r.kids![1]!],
    ] as const) {
      for (const [form, change] of headers) {
        const root = tree(spki);
        change(find(root));
        forms.push([`${name} ${part}, ${form}`, build(root)]);
      }
    }
  }
  let read = 0;
  for (const [form, spki] of forms) {
    t.is(exportedFormOf(spki), undefined, form);
    const der = withPublicKeyInfo(base, spki);
    let expected: string;
    try {
      expected = certificateKeyId(der);
    } catch {
      continue; // OpenSSL refuses this one: nothing to compare (hostile-certificate tests cover it)
    }
    read++;
    t.is(describeCertificate(der).keyId, expected, form);
  }
  t.true(read >= 4, `${read} of ${forms.length} forms read by OpenSSL`);
});

test('property: a certificate with a damaged key that OpenSSL reads has OpenSSL’s key id', async (t) => {
  const base = await baseCertificate(await tempDir(t));
  const keys = [
    publicKeyInfoOf('ec', { namedCurve: 'P-256' }),
    publicKeyInfoOf('ec', { namedCurve: 'P-384' }),
    publicKeyInfoOf('rsa', { modulusLength: 1024 }),
  ];
  let agreed = 0;
  fc.assert(
    fc.property(
      fc.constantFrom(...keys),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
      (spki, changes) => {
        const damaged = Buffer.from(spki);
        for (const [i, byte] of changes) damaged[i % damaged.length] = byte;
        const der = withPublicKeyInfo(base, damaged);
        let expected: string;
        try {
          expected = certificateKeyId(der);
        } catch {
          return true; // OpenSSL refuses the certificate or its key: described otherwise
        }
        agreed++;
        return describeCertificate(der).keyId === expected;
      },
    ),
    { numRuns: 2000 },
  );
  t.true(agreed > 300, `${agreed} damaged keys read by OpenSSL`);
});
