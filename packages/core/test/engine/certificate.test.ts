import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { describeCertificateStructure } from '../../src/engine/certificate.js';
import { CONTEXT, children, element, encode } from '../../src/engine/der.js';
import { describeCertificate, opensslTime, X509ContentInspector } from '../../src/index.js';
import {
  HOSTILE_CERTIFICATES,
  MemoryLocalStore,
  makeEngine,
  makeHostileCertificate,
  ReplicatedDirectory,
} from '../../src/testing/index.js';
import { tempDir } from '../support/temp.js';

const run = promisify(execFile);
const openssl = async (args: readonly string[], cwd: string) =>
  (await run('openssl', [...args], { cwd, encoding: 'buffer' })).stdout;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The SHA-256 of a certificate's public key, as OpenSSL exports it (DER SubjectPublicKeyInfo). */
async function opensslKeyId(pem: string, dir: string): Promise<string> {
  const pub = await openssl(['x509', '-in', pem, '-noout', '-pubkey'], dir);
  await writeFile(path.join(dir, 'pub.pem'), pub);
  return sha256(await openssl(['pkey', '-pubin', '-in', 'pub.pem', '-outform', 'DER'], dir));
}

test('openssl reads each hostile certificate', async (t) => {
  const dir = await tempDir(t);
  for (const kind of HOSTILE_CERTIFICATES) {
    const cert = await makeHostileCertificate(dir, kind);
    const text = (
      await openssl(['x509', '-inform', 'DER', '-in', cert.der, '-noout', '-text'], dir)
    ).toString();
    t.regex(text, /^Certificate:/, kind);
  }
});

test('describeCertificate: a normal certificate, as Node reads it (key id: its SubjectPublicKeyInfo as exported)', async (t) => {
  const dir = await tempDir(t);
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'k.pem',
      '-out',
      'c.pem',
      '-subj',
      '/CN=alice/O=Example',
      '-not_before',
      '20240102030405Z',
      '-not_after',
      '20341231235959Z',
    ],
    dir,
  ).catch(async () =>
    // OpenSSL before 3.4 has no -not_before: a fixed start is not essential here.
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        'k.pem',
        '-out',
        'c.pem',
        '-subj',
        '/CN=alice/O=Example',
        '-days',
        '30',
      ],
      dir,
    ),
  );
  const der = new Uint8Array(await openssl(['x509', '-in', 'c.pem', '-outform', 'DER'], dir));
  const d = describeCertificate(der);
  const dates = (await openssl(['x509', '-in', 'c.pem', '-noout', '-startdate', '-enddate'], dir)).toString();
  const [, start, end] = /notBefore=(.*)\nnotAfter=(.*)\n/.exec(dates)!;
  t.deepEqual(d, {
    id: sha256(der),
    subject: 'CN=alice, O=Example',
    issuer: 'CN=alice, O=Example',
    notBefore: opensslTime(start),
    notAfter: opensslTime(end),
    keyId: await opensslKeyId('c.pem', dir),
    unreadable: [],
  });
  t.is(typeof d.notAfter, 'number');
  t.deepEqual(new X509ContentInspector().inspect('cert', der), { id: d.id, notAfter: d.notAfter });
});

test('describeCertificate: a time that is not a date is unreadable (no notBefore, no notAfter), never NaN', async (t) => {
  const dir = await tempDir(t);
  const cert = await makeHostileCertificate(dir, 'bad-time');
  const der = new Uint8Array(await readFile(cert.der));
  t.deepEqual(describeCertificate(der), {
    id: cert.sha256,
    subject: 'CN=hostile bad-time',
    issuer: 'CN=hostile bad-time',
    keyId: await opensslKeyId(cert.pem, dir),
    unreadable: ['notBefore', 'notAfter'],
  });
  // The engine learns no end of validity: such a certificate is never archived as expired.
  t.deepEqual(new X509ContentInspector().inspect('cert', der), { id: cert.sha256 });
});

test('describeCertificate: a public key of an unknown algorithm has the key id of its bytes in the certificate', async (t) => {
  const dir = await tempDir(t);
  const cert = await makeHostileCertificate(dir, 'unknown-key');
  // The SubjectPublicKeyInfo alone, made by openssl from the same description.
  await writeFile(
    path.join(dir, 'spki.cnf'),
    'asn1=SEQUENCE:spki\n[spki]\nalg=SEQUENCE:alg\nkey=FORMAT:HEX,BITSTRING:0102030405060708\n[alg]\noid=OID:1.2.3.4\n',
  );
  await openssl(['asn1parse', '-genconf', 'spki.cnf', '-noout', '-out', 'spki.der'], dir);
  const der = new Uint8Array(await readFile(cert.der));
  t.deepEqual(describeCertificate(der), {
    id: cert.sha256,
    subject: 'CN=hostile unknown-key',
    issuer: 'CN=hostile unknown-key',
    notBefore: Date.UTC(2024, 0, 1),
    notAfter: Date.UTC(2099, 11, 31, 23, 59, 59),
    keyId: sha256(await readFile(path.join(dir, 'spki.der'))),
    unreadable: ['publicKey'],
  });
});

test('describeCertificate: an empty subject is described as such, not as unreadable', async (t) => {
  const dir = await tempDir(t);
  const cert = await makeHostileCertificate(dir, 'empty-subject');
  t.deepEqual(describeCertificate(new Uint8Array(await readFile(cert.der))), {
    id: cert.sha256,
    subject: '(empty subject)',
    issuer: 'CN=hostile empty-subject',
    notBefore: Date.UTC(2024, 0, 1),
    notAfter: Date.UTC(2099, 11, 31, 23, 59, 59),
    keyId: await opensslKeyId(cert.pem, dir),
    unreadable: [],
  });
});

test('describeCertificate refuses what is not exactly one DER certificate: PEM, trailing bytes, garbage', async (t) => {
  const dir = await tempDir(t);
  const cert = await makeHostileCertificate(dir, 'empty-subject');
  const der = await readFile(cert.der);
  const pem = new Uint8Array(await readFile(cert.pem));
  t.throws(() => describeCertificate(new Uint8Array(Buffer.concat([der, Buffer.from([0])]))), {
    message: /not exactly one DER certificate/,
  });
  t.throws(() => describeCertificate(pem), {
    message: /not exactly one DER certificate/,
  });
  t.throws(() => describeCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])));
});

test('opensslTime reads what OpenSSL prints, strictly', (t) => {
  t.is(opensslTime('Jan  2 03:04:05 2025 GMT'), Date.UTC(2025, 0, 2, 3, 4, 5));
  t.is(opensslTime('Dec 31 23:59:59 9999 GMT'), Date.UTC(9999, 11, 31, 23, 59, 59));
  t.is(opensslTime('Jan  1 00:00:00.5 2024 GMT'), Date.UTC(2024, 0, 1) + 500);
  t.is(opensslTime('Feb 29 00:00:00 2024 GMT'), Date.UTC(2024, 1, 29));
  const year50 = new Date(0);
  year50.setUTCFullYear(50, 0, 1);
  t.is(opensslTime('Jan  1 00:00:00 50 GMT'), year50.getTime(), 'year 50, not 1950');
  for (const bad of [
    'Bad time value',
    'Feb 29 00:00:00 2023 GMT',
    'Foo  1 00:00:00 2024 GMT',
    'Jan 32 00:00:00 2024 GMT',
    'Jan  1 24:00:00 2024 GMT',
    'Jan  1 00:00:60 2024 GMT',
    '2024-01-01T00:00:00Z',
    '',
    undefined,
  ]) {
    t.is(opensslTime(bad), undefined, String(bad));
  }
});

test('a sync keeps a certificate whose time is unreadable active, and its next due time stays that of the others', async (t) => {
  const dir = await tempDir(t);
  const now = Date.UTC(2030, 0, 1);
  const local = new MemoryLocalStore(() => now);
  const inspector = new X509ContentInspector();
  const items: Uint8Array[] = [];
  for (const kind of ['bad-time', 'empty-subject'] as const) {
    items.push(new Uint8Array(await readFile((await makeHostileCertificate(dir, kind)).der)));
  }
  for (const content of items) {
    const id = inspector.inspect('cert', content).id;
    await local.put({ kind: 'cert', id, content, archived: false, modified: now });
  }
  const world = new ReplicatedDirectory(1);
  const { engine, state } = makeEngine({
    directory: world.server(0),
    local,
    inspector,
    now: () => now,
    policy: { archiveExpired: true },
  });
  const report = await engine.sync({ full: true });
  t.deepEqual(report.skipped, []);
  t.deepEqual(
    [...local.items.values()].map((i) => i.archived),
    [false, false],
  );
  // The empty-subject certificate ends on 2099-12-31T23:59:59Z; NaN would have made it null.
  t.is((await state.load())?.nextDue, Date.UTC(2099, 11, 31, 23, 59, 59) + 1);
});

test('read from its structure alone (what an endpoint whose stricter OpenSSL refuses a certificate does), a certificate is described as OpenSSL describes it', async (t) => {
  const dir = await tempDir(t);
  const subject = '/C=DE/ST=Berlin/L=Berlin/O=Example/OU=IT/CN=alice/emailAddress=alice@example.org';
  const made: Array<[string, readonly string[]]> = [
    ['rsa', ['-newkey', 'rsa:2048', '-days', '30']],
    ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-days', '30']],
    // After 2049 the notAfter is a GeneralizedTime.
    ['ed25519', ['-newkey', 'ed25519', '-days', '20000']],
  ];
  for (const [name, args] of made) {
    await openssl(
      [
        'req',
        '-x509',
        ...args,
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-outform',
        'DER',
        '-out',
        `${name}.der`,
        '-subj',
        subject,
      ],
      dir,
    );
    const der = new Uint8Array(await readFile(path.join(dir, `${name}.der`)));
    t.deepEqual(describeCertificateStructure(der), describeCertificate(der), name);
  }
  for (const kind of HOSTILE_CERTIFICATES) {
    const cert = await makeHostileCertificate(dir, kind);
    const der = new Uint8Array(await readFile(cert.der));
    const structure = describeCertificateStructure(der);
    const openssl = describeCertificate(der);
    t.is(structure.id, openssl.id, kind);
    t.is(structure.keyId, openssl.keyId, kind);
    t.is(structure.notAfter, openssl.notAfter, kind);
  }
  const junk = Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x00]);
  t.throws(() => describeCertificateStructure(junk), { message: /not exactly one DER certificate/ });
});

/**
 * The certificate with one TBSCertificate item's length written in five bytes, zero-padded
 * (`85 00 00 00 00 nn`): BER OpenSSL reads (it skips the zeros), and keeps as it is in the
 * certificate's bytes (it keeps the TBSCertificate's encoding).
 */
function paddedLength(der: Uint8Array, item: number): Uint8Array {
  const cert = element(der)!;
  const [tbs, ...rest] = children(cert.content)!;
  const items = children(tbs!.content)!;
  const at = items[0]!.tagClass === CONTEXT && items[0]!.tagNumber === 0 ? 1 : 0;
  const parts = items.map((e, i) => {
    if (i !== at + item) return e.bytes;
    const n = e.content.length;
    return Buffer.concat([
      Buffer.from([e.bytes[0]!, 0x85, 0, 0, n >> 16, (n >> 8) & 0xff, n & 0xff]),
      e.content,
    ]);
  });
  return encode(0x30, encode(0x30, ...parts), ...rest.map((e) => e.bytes));
}

test('a TBSCertificate item whose length is written in five zero-padded bytes, which OpenSSL reads: described as before (the header reader takes up to eight length bytes, as asn1js and OpenSSL do)', async (t) => {
  const dir = await tempDir(t);
  const empty = paddedLength(
    new Uint8Array(await readFile((await makeHostileCertificate(dir, 'empty-subject')).der)),
    4,
  );
  const unknown = paddedLength(
    new Uint8Array(await readFile((await makeHostileCertificate(dir, 'unknown-key')).der)),
    5,
  );
  for (const der of [empty, unknown]) {
    const x509 = new X509Certificate(der);
    t.true(Buffer.from(x509.raw).equals(Buffer.from(der)), 'OpenSSL reads it, bytes as they are');
  }
  const described = describeCertificate(empty);
  t.is(described.subject, '(empty subject)');
  t.deepEqual(described.unreadable, []);
  t.deepEqual(describeCertificateStructure(empty), described);
  // A public key Node cannot read: its id is that of its bytes, found in the certificate.
  const unknownDescribed = describeCertificate(unknown);
  t.deepEqual(unknownDescribed.unreadable, ['publicKey']);
  t.deepEqual(describeCertificateStructure(unknown), unknownDescribed);
});

test('a subject and issuer holding terminal escapes, line breaks, C1 and bidi controls, or over 2 000 characters, are described printable: one line, no control or bidi character, at most 512 characters, as OpenSSL reads them and from their structure', async (t) => {
  const dir = await tempDir(t);
  // ESC [31m, a line break, a carriage return, CSI (U+009B), NEL (U+0085), a line separator, RLO.
  const hostile = 'a\u001b[31mred\nOK fake line\rOK\u009b2J\u0085x\u2028y\u202eevil';
  for (const [name, subject] of [
    ['controls', `/CN=${hostile}/O=Example`],
    ['long', `/CN=${'c'.repeat(60)}${`/OU=${'o'.repeat(60)}`.repeat(33)}`],
  ] as const) {
    await openssl(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`],
      dir,
    );
    await openssl(
      [
        'req',
        '-x509',
        '-key',
        `${name}.key`,
        '-days',
        '30',
        '-utf8',
        '-subj',
        subject,
        '-outform',
        'DER',
        '-out',
        `${name}.der`,
      ],
      dir,
    );
    const der = new Uint8Array(await readFile(path.join(dir, `${name}.der`)));
    for (const described of [describeCertificate(der), describeCertificateStructure(der)]) {
      for (const text of [described.subject, described.issuer]) {
        // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
        t.notRegex(text, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/, name);
        t.true(text.length <= 512, name);
        t.regex(text, /^CN=/, name);
      }
    }
  }
});
