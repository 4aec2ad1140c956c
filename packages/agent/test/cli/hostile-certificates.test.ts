import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type HostileCertificate, makeHostileCertificate } from '@credroam/core/testing';
import test, { type ExecutionContext } from 'ava';
import { fingerprintOf, openssl, opensslP12, twoEndpoints } from '../support.js';

// Issue 11: certificates that OpenSSL reads but Node cannot fully describe. Each is imported on A,
// roams to B, and there is listed, shown by status, exported and removed; the removal roams to A.

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The key id credroam gives a certificate whose public key Node reads: SHA-256 of its SPKI (DER). */
async function opensslKeyId(pem: string, dir: string): Promise<string> {
  await writeFile(path.join(dir, 'pub.pem'), await openssl(['x509', '-in', pem, '-noout', '-pubkey'], dir));
  await openssl(['pkey', '-pubin', '-in', 'pub.pem', '-outform', 'DER', '-out', 'pub.der'], dir);
  return sha256(await readFile(path.join(dir, 'pub.der')));
}

/** The SubjectPublicKeyInfo of the `unknown-key` certificate alone, made by openssl: its SHA-256. */
async function unknownKeySpkiId(dir: string): Promise<string> {
  await writeFile(
    path.join(dir, 'spki.cnf'),
    'asn1=SEQUENCE:spki\n[spki]\nalg=SEQUENCE:alg\nkey=FORMAT:HEX,BITSTRING:0102030405060708\n[alg]\noid=OID:1.2.3.4\n',
  );
  await openssl(['asn1parse', '-genconf', 'spki.cnf', '-noout', '-out', 'spki.der'], dir);
  return sha256(await readFile(path.join(dir, 'spki.der')));
}

const VALID = { notBefore: '2024-01-01T00:00:00.000Z', notAfter: '2099-12-31T23:59:59.000Z' };

/** What `list --json` shows on B for each, beyond the thumbprints and key id. */
const SHOWN: Record<HostileCertificate, Record<string, unknown>> = {
  'bad-time': {
    subject: 'CN=hostile bad-time',
    issuer: 'CN=hostile bad-time',
    notBefore: null,
    notAfter: null,
    unreadableFields: ['notBefore', 'notAfter'],
  },
  'unknown-key': {
    subject: 'CN=hostile unknown-key',
    issuer: 'CN=hostile unknown-key',
    ...VALID,
    unreadableFields: ['publicKey'],
  },
  'empty-subject': { subject: '(empty subject)', issuer: 'CN=hostile empty-subject', ...VALID },
};

/** The text `list` shows for each (after the thumbprint line's SHA-256). */
const TEXT: Record<HostileCertificate, RegExp> = {
  'bad-time':
    /CN=hostile bad-time\n {2}sha1 [0-9a-f]{40} {2}until \(unreadable time\) {2}key no {2}synced\n {2}cannot be read: notBefore, notAfter$/,
  'unknown-key':
    /CN=hostile unknown-key\n {2}sha1 [0-9a-f]{40} {2}until 2099-12-31T23:59:59.000Z {2}key no {2}synced\n {2}cannot be read: publicKey$/,
  'empty-subject':
    /\(empty subject\)\n {2}sha1 [0-9a-f]{40} {2}until 2099-12-31T23:59:59.000Z {2}key no {2}synced$/,
};

type Endpoints = Awaited<ReturnType<typeof twoEndpoints>>;

/** `export` of the certificate alone (found by SHA-1) on B: openssl reads the same certificate. */
async function exportsSame(t: ExecutionContext, w: Endpoints, sha256: string, sha1: string): Promise<void> {
  const exported = await w.b(['export', sha1, '--out', 'b.p12', '--passout', 'file:p12pw', '--json']);
  t.is(exported.code, 0, exported.stderr);
  t.deepEqual(JSON.parse(exported.stdout), { sha256, file: path.join(w.dir, 'b.p12'), hasKey: false });
  await openssl(['pkcs12', '-in', 'b.p12', '-passin', 'file:p12pw', '-nokeys', '-out', 'b-cert.pem'], w.dir);
  t.is(
    fingerprintOf(await openssl(['x509', '-in', 'b-cert.pem', '-noout', '-fingerprint', '-sha256'], w.dir)),
    sha256,
  );
}

async function roundTrip(t: ExecutionContext, kind: HostileCertificate): Promise<void> {
  const w = await twoEndpoints(t);
  const cert = await makeHostileCertificate(w.dir, kind);
  // OpenSSL reads it: it is a certificate, however odd.
  t.regex(
    await openssl(['x509', '-inform', 'DER', '-in', cert.der, '-noout', '-text'], w.dir),
    /^Certificate:/,
  );
  const sha1 = fingerprintOf(
    await openssl(['x509', '-in', cert.pem, '-noout', '-fingerprint', '-sha1'], w.dir),
  );
  const keyId = kind === 'unknown-key' ? await unknownKeySpkiId(w.dir) : await opensslKeyId(cert.pem, w.dir);

  t.is((await w.a(['logon', ...w.pw])).code, 0);
  const imported = await w.a(['import', cert.pem, ...w.pw, '--json']);
  t.is(imported.code, 0, imported.stderr);
  t.deepEqual(JSON.parse(imported.stdout), {
    imported: [{ sha256: cert.sha256, hasKey: false }],
    ignoredCertificates: 0,
    notices: [],
  });
  const syncA = await w.a(['sync', ...w.pw, '--json']);
  t.is(syncA.code, 0, syncA.stderr);
  t.like(JSON.parse(syncA.stdout), { outcome: 'synced', counts: { uploaded: 1 }, skipped: [] });

  const logonB = await w.b(['logon', ...w.pw, '--json']);
  t.is(logonB.code, 0, logonB.stderr);
  t.like(JSON.parse(logonB.stdout), { counts: { downloaded: 1 }, skipped: [] });

  const listed = await w.b(['list', '--json']);
  t.is(listed.code, 0, listed.stderr);
  t.deepEqual(JSON.parse(listed.stdout), {
    credentials: [
      {
        sha256: cert.sha256,
        sha1,
        ...SHOWN[kind],
        archived: false,
        chainLength: 0,
        hasKey: false,
        keyId,
        key: 'none',
        state: 'synced',
      },
    ],
    unreadable: [],
    skipped: [],
  });
  const text = await w.b(['list']);
  t.is(text.code, 0, text.stderr);
  t.true(text.stdout.startsWith(`${cert.sha256}  `), text.stdout);
  t.regex(text.stdout.trim(), TEXT[kind]);

  const status = await w.b(['status', '--json']);
  t.is(status.code, 0, status.stderr);
  t.like(JSON.parse(status.stdout), {
    credentials: 1,
    archived: 0,
    pending: { credentials: 0 },
    skipped: [],
    unreadable: [],
  });
  t.is((await w.b(['status'])).code, 0);

  // Exported (the certificate alone), it is the same certificate for openssl.
  await exportsSame(t, w, cert.sha256, sha1);

  const dryRun = await w.b(['remove', cert.sha256.slice(0, 8), '--dry-run', '--json']);
  t.is(dryRun.code, 0, dryRun.stderr);
  t.deepEqual(JSON.parse(dryRun.stdout), {
    dryRun: true,
    wouldRemove: cert.sha256,
    hasKey: false,
    subject: SHOWN[kind].subject,
  });
  const removed = await w.b(['remove', cert.sha256.slice(0, 8), '--json']);
  t.is(removed.code, 0, removed.stderr);
  t.like(JSON.parse(removed.stdout), { removed: cert.sha256, hasKey: false });
  const syncB = await w.b(['sync', ...w.pw, '--json']);
  t.like(JSON.parse(syncB.stdout), { counts: { tombstoned: 1 }, skipped: [] });
  const syncA2 = await w.a(['sync', ...w.pw, '--json']);
  t.like(JSON.parse(syncA2.stdout), { counts: { removed: 1 }, skipped: [] });
  t.deepEqual(JSON.parse((await w.a(['list', '--json'])).stdout), {
    credentials: [],
    unreadable: [],
    skipped: [],
  });
}

test('a certificate whose times are not dates roams, lists (notAfter null, never archived), shows in status and is removed everywhere', (t) =>
  roundTrip(t, 'bad-time'));

test('a certificate whose times are not dates is exported, the same certificate for openssl', async (t) => {
  const w = await twoEndpoints(t);
  const cert = await makeHostileCertificate(w.dir, 'bad-time');
  const sha1 = fingerprintOf(
    await openssl(['x509', '-in', cert.pem, '-noout', '-fingerprint', '-sha1'], w.dir),
  );
  await w.b(['logon', ...w.pw]);
  t.is((await w.b(['import', cert.pem, ...w.pw])).code, 0);
  await exportsSame(t, w, cert.sha256, sha1);
});

test('a certificate whose public key is of an unknown algorithm roams, lists (key id of its bytes), exports and is removed everywhere', (t) =>
  roundTrip(t, 'unknown-key'));

test('a certificate with an empty subject roams, lists as "(empty subject)", exports and is removed everywhere', (t) =>
  roundTrip(t, 'empty-subject'));

test('an empty subject and issuer with its private key: imported and exported through the agent, the key matching', async (t) => {
  const w = await twoEndpoints(t);
  await openssl(
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'k.pem'],
    w.dir,
  );
  await openssl(['req', '-x509', '-key', 'k.pem', '-subj', '/', '-days', '30', '-out', 'c.pem'], w.dir);
  t.is(
    (await openssl(['x509', '-in', 'c.pem', '-noout', '-subject', '-issuer'], w.dir)).trim(),
    'subject=\nissuer=',
  );
  await openssl(
    ['pkcs12', '-export', '-in', 'c.pem', '-inkey', 'k.pem', '-out', 'c.p12', '-passout', 'file:p12pw'],
    w.dir,
  );
  const sha = fingerprintOf(
    await openssl(['x509', '-in', 'c.pem', '-noout', '-fingerprint', '-sha256'], w.dir),
  );
  const started = await w.a(['logon', '--start-agent', ...w.pw]);
  t.is(started.code, 0, started.stderr);
  // Without the roaming password: the running agent encrypts the key.
  const imported = await w.a(['import', 'c.p12', '--passin', 'file:p12pw', '--json']);
  t.is(imported.code, 0, imported.stderr);
  t.deepEqual(JSON.parse(imported.stdout), {
    imported: [{ sha256: sha, hasKey: true }],
    ignoredCertificates: 0,
    notices: [],
  });
  const list = JSON.parse((await w.a(['list', '--json'])).stdout) as {
    credentials: Array<Record<string, unknown>>;
  };
  t.like(list.credentials[0], {
    sha256: sha,
    subject: '(empty subject)',
    issuer: '(empty issuer)',
    hasKey: true,
    keyId: await opensslKeyId(path.join(w.dir, 'c.pem'), w.dir),
  });
  t.false('unreadableFields' in list.credentials[0]!);
  const exported = await w.a(['export', sha, '--out', 'out.p12', '--passout', 'file:p12pw']);
  t.is(exported.code, 0, exported.stderr);
  await openssl(['pkcs12', '-in', 'out.p12', '-passin', 'file:p12pw', '-nodes', '-out', 'out.pem'], w.dir);
  t.is(
    await openssl(['pkey', '-in', 'out.pem', '-pubout'], w.dir),
    await openssl(['x509', '-in', 'out.pem', '-pubkey', '-noout'], w.dir),
  );
  t.is(
    fingerprintOf(await openssl(['x509', '-in', 'out.pem', '-noout', '-fingerprint', '-sha256'], w.dir)),
    sha,
  );
  // A normal credential next to it is unaffected.
  const normal = await opensslP12(w.dir, 'bob');
  t.is((await w.a(['import', normal.file, '--passin', 'file:p12pw'])).code, 0);
  const both = JSON.parse((await w.a(['list', '--json'])).stdout) as {
    credentials: Array<{ subject: string }>;
  };
  t.deepEqual(both.credentials.map((c) => c.subject).sort(), ['(empty subject)', 'CN=bob']);
});
