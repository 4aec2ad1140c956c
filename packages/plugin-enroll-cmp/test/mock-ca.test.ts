import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EnrollmentRequest } from '@credroam/core/api';
import type { NamespacedServer } from '@credroam/core/testing';
import test from 'ava';
import { CmpEnroller, cmpSettings } from '../src/index.js';
import { REFERENCE, SECRET, startMockCa, urlOf } from './support/mock-server.js';
import { type IssuedKey, issueFor, makeCa, openssl, type Pki, removePki } from './support/pki.js';

// One mock CA for the file (it keeps one transaction at a time: the tests run serially).
let pki: Pki;
let alice: IssuedKey;
let server: NamespacedServer;
test.before(async () => {
  pki = await makeCa();
  alice = await issueFor(pki, 'alice');
  // caPubs in ip (OpenSSL's mock server sends them only there), extraCerts in every reply (kup too).
  server = await startMockCa(pki, alice.certPem, ['-rsp_extracerts', pki.caPem]);
});
test.after.always(async () => {
  await server?.stop();
  if (pki) await removePki(pki);
});

const enroller = (settings: Record<string, unknown> = {}) =>
  new CmpEnroller(cmpSettings({ reference: REFERENCE, ...settings }));
const requestFor = (key: IssuedKey, over: Partial<EnrollmentRequest> = {}): EnrollmentRequest => ({
  profile: 'vpn',
  ca: { url: urlOf(server), fingerprint: pki.fingerprint },
  subject: 'CN=alice',
  subjectAltNames: [
    { type: 'email', value: 'alice@example.org' },
    { type: 'upn', value: 'alice@EXAMPLE.ORG' },
  ],
  key: key.key,
  challenge: SECRET,
  ...over,
});

test.serial(
  'ir with a PBM: issued, confirmed; the certificate verifies with openssl against the CA',
  async (t) => {
    const outcome = await enroller().request(requestFor(alice));
    if (outcome.status !== 'issued') return t.fail(`not issued: ${outcome.status}`);
    t.true(Buffer.from(outcome.certificate).equals(Buffer.from(alice.certDer)));
    t.is(outcome.caCertificates.length, 1);
    const file = path.join(pki.dir, 'enrolled.der');
    await writeFile(file, outcome.certificate);
    await openssl(pki.dir, ['x509', '-inform', 'DER', '-in', file, '-out', 'enrolled.pem']);
    const { stdout } = await openssl(pki.dir, ['verify', '-CAfile', pki.caPem, 'enrolled.pem']);
    t.is(stdout.trim(), 'enrolled.pem: OK');
  },
);

test.serial(
  "cross-check: openssl's own client enrolls against the same server with the same secret",
  async (t) => {
    const { stdout, stderr } = await openssl(pki.dir, [
      'cmp',
      '-server',
      `${server.host}:${server.port}/pkix/`,
      '-ref',
      REFERENCE,
      '-secret',
      `pass:${SECRET}`,
      '-cmd',
      'ir',
      '-newkey',
      alice.keyPem,
      '-subject',
      '/CN=alice',
      '-recipient',
      '/CN=credroam test CMP CA',
      '-certout',
      'openssl-client.pem',
      '-out_trusted',
      pki.caPem,
    ]);
    t.regex(stdout + stderr, /received PKICONF/);
    await openssl(pki.dir, ['verify', '-CAfile', pki.caPem, 'openssl-client.pem']);
  },
);

test.serial(
  'RSA and EC P-384 keys: the proof of possession is accepted (the server answers with its one certificate)',
  async (t) => {
    for (const type of ['rsa', 'ec384'] as const) {
      const other = await issueFor(pki, `pop-${type}`, type);
      // The mock server answers with alice's certificate whatever the key: the plugin says so (below),
      // after the CA accepted the request, proving that the POP and the MAC were good.
      await t.throwsAsync(enroller().request(requestFor(other)), {
        code: 'E_ENROLL_CA_MISMATCH',
        message: /for another key/,
      } as never);
    }
  },
);

test.serial(
  'a certificate for another key than ours is refused (E_ENROLL_CA_MISMATCH), not returned',
  async (t) => {
    const bob = await issueFor(pki, 'bob', 'ec', '/CN=bob');
    await t.throwsAsync(enroller().request(requestFor(bob, { subject: 'CN=bob', subjectAltNames: [] })), {
      code: 'E_ENROLL_CA_MISMATCH',
      message:
        "profile 'vpn': the CA issued a certificate for another key than the one in the request (refused, and said so in certConf)",
    } as never);
  },
);

test.serial(
  'a wrong shared secret: the server answers an error it protects with its own: E_ENROLL_REFUSED, "wrong pbm value"',
  async (t) => {
    const error = await t.throwsAsync(
      enroller().request(requestFor(alice, { challenge: 'not the secret' })),
      {
        code: 'E_ENROLL_REFUSED',
      } as never,
    );
    t.regex(error!.message, /is an error: rejection \(badRequest\): "wrong pbm value" \(not authenticated/);
    t.notRegex(error!.message, /not the secret|the shared secret 1234/);
  },
);

test.serial(
  "a wrong reference: OpenSSL's mock server ignores the senderKID (it has one secret), so it issues",
  async (t) => {
    // Documents the server, not the plugin: a CA with several secrets picks the one the reference names.
    const outcome = await enroller({ reference: 'someone-else' }).request(requestFor(alice));
    t.is(outcome.status, 'issued');
  },
);

test.serial('the pinned fingerprint is not the CA: E_ENROLL_CA_MISMATCH, nothing returned', async (t) => {
  await t.throwsAsync(
    enroller().request(requestFor(alice, { ca: { url: urlOf(server), fingerprint: 'ab'.repeat(32) } })),
    {
      code: 'E_ENROLL_CA_MISMATCH',
      message: /no certificate with the pinned fingerprint abababababababab/,
    } as never,
  );
});

test.serial(
  'renewal: a kur for the old certificate (oldCertID), MAC-protected, answered by kup',
  async (t) => {
    const outcome = await enroller().request(
      requestFor(alice, { renewing: { certificate: alice.certDer, privateKey: alice.key.privateKey } }),
    );
    t.is(outcome.status, 'issued');
  },
);

test.serial(
  "a subject that is not RFC 4514 is the profile's fault (E_ENROLL_PROFILE), nothing sent",
  async (t) => {
    await t.throwsAsync(enroller().request(requestFor(alice, { subject: 'CN=alice, O=Example' })), {
      code: 'E_ENROLL_PROFILE',
      message: /a space after a separator is not RFC 4514 at offset 9/,
    } as never);
  },
);

test.serial('the CA is down: E_UNREACHABLE', async (t) => {
  await t.throwsAsync(
    enroller().request(
      requestFor(alice, { ca: { url: 'http://127.0.0.1:1/pkix/', fingerprint: pki.fingerprint } }),
    ),
    { code: 'E_UNREACHABLE', message: /cannot be reached \(ECONNREFUSED\)/ } as never,
  );
});
