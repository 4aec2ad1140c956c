import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { EnrollmentKey, EnrollmentRequest } from '@credroam/core/api';
import test from 'ava';
import { SCEP_REPLY_MAX_BYTES, ScepEnroller } from '../src/index.js';
import {
  certRep,
  certsOnly,
  fakeCa,
  issueCertificate,
  issuedEnvelope,
  type TestSigner,
  testSigner,
} from './support/fake-ca.js';

// SCEP replies built here, signed by a test CA and served on 127.0.0.1: the paths scepserver never
// takes (PENDING, FAILURE) and replies no honest server sends.

const ca = testSigner('CN=Fake SCEP CA,O=Test');
const impostor = testSigner('CN=Impostor CA');
const CHALLENGE = 'sesame-open-42';

const enroller = (timeoutSeconds = 30) => new ScepEnroller({ timeoutSeconds });

function rsaKey(): EnrollmentKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
  };
}
const key = rsaKey();

const requestFor = (url: string, overrides: Partial<EnrollmentRequest> = {}): EnrollmentRequest => ({
  profile: 'user-auth',
  ca: { url, fingerprint: ca.fingerprint },
  subject: 'CN=alice',
  subjectAltNames: [],
  key,
  challenge: CHALLENGE,
  ...overrides,
});

/** The E_ENROLL_PROTOCOL refusal, its message matching `message`, the challenge nowhere in it. */
const protocolRefusal = (message: RegExp) => ({ code: 'E_ENROLL_PROTOCOL', message }) as never;

function assertNoChallenge(t: { false(v: boolean): void }, error: unknown): void {
  t.false(
    JSON.stringify({ m: (error as Error).message, d: (error as { details?: unknown }).details }).includes(
      CHALLENGE,
    ),
  );
}

const success =
  (signer: TestSigner = ca) =>
  (m: Parameters<typeof certRep>[0]['request']) => ({
    body: certRep({ signer, request: m, pkiStatus: '0', content: issuedEnvelope(ca, m, key.publicKey) }),
  });

test('a SUCCESS signed with SHA-1 (as scepserver signs) is accepted; the request is SHA-256, signed attributes in DER order', async (t) => {
  const server = await fakeCa(t, ca, success());
  const outcome = await enroller().request(requestFor(server.url));
  t.is(outcome.status, 'issued');
  if (outcome.status !== 'issued') return;
  t.true(new X509Certificate(outcome.certificate).verify(new X509Certificate(ca.certificate).publicKey));
  const sent = server.requests.find((r) => r.operation === 'PKIOperation')!;
  t.is(sent.method, 'POST');
  t.is(sent.message?.messageType, '19');
  t.is(sent.message?.digest, '2.16.840.1.101.3.4.2.1');
  const encodings = sent.message!.attributeEncodings.map((e) => Buffer.from(e));
  t.is(encodings.length, 5);
  t.deepEqual(encodings, [...encodings].sort(Buffer.compare));
});

test('PENDING: a state to poll with (no challenge in it); CertPoll with it, then SUCCESS', async (t) => {
  let polls = 0;
  const server = await fakeCa(t, ca, (m) => {
    if (m.messageType === '19') return { body: certRep({ signer: ca, request: m, pkiStatus: '3' }) };
    polls++;
    if (polls === 1) return { body: certRep({ signer: ca, request: m, pkiStatus: '3' }) };
    return success()(m);
  });
  const outcome = await enroller().request(requestFor(server.url));
  if (outcome.status !== 'pending') return t.fail(`not pending: ${outcome.status}`);
  t.true(outcome.checkAfterSeconds > 0);
  t.false(Buffer.from(outcome.state).toString('latin1').includes(CHALLENGE));
  const poll = {
    profile: 'user-auth',
    ca: { url: server.url, fingerprint: ca.fingerprint },
    key,
    challenge: CHALLENGE,
  };
  const again = await enroller().poll({ ...poll, state: outcome.state });
  if (again.status !== 'pending') return t.fail('the first poll was not pending');
  t.deepEqual(again.state, outcome.state);
  const issued = await enroller().poll({ ...poll, state: again.state });
  t.is(issued.status, 'issued');
  const pkiOps = server.requests.filter((r) => r.operation === 'PKIOperation').map((r) => r.message!);
  t.deepEqual(
    pkiOps.map((m) => m.messageType),
    ['19', '20', '20'],
  );
  t.is(new Set(pkiOps.map((m) => m.transactionId)).size, 1);
});

test('a renewal that comes back PENDING is polled signed with the certificate it renews, and the reply opened with its key', async (t) => {
  const old = rsaKey();
  const oldCert = issueCertificate(ca, ca.certificate, old.publicKey);
  const server = await fakeCa(t, ca, (m) =>
    m.messageType === '20' ? success()(m) : { body: certRep({ signer: ca, request: m, pkiStatus: '3' }) },
  );
  const renewing = { certificate: oldCert, privateKey: old.privateKey };
  const outcome = await enroller().request(requestFor(server.url, { renewing }));
  if (outcome.status !== 'pending') return t.fail(`not pending: ${outcome.status}`);
  const issued = await enroller().poll({
    profile: 'user-auth',
    ca: { url: server.url, fingerprint: ca.fingerprint },
    key,
    challenge: CHALLENGE,
    state: outcome.state,
    renewing,
  });
  t.is(issued.status, 'issued');
  const pkiOps = server.requests.filter((r) => r.operation === 'PKIOperation').map((r) => r.message!);
  t.deepEqual(
    pkiOps.map((m) => m.messageType),
    ['17', '20'],
  );
  for (const m of pkiOps)
    t.true(
      Buffer.from(m.signer).equals(Buffer.from(oldCert)),
      `message ${m.messageType} signed with the old certificate`,
    );
});

test('a poll state this plugin did not write is refused', async (t) => {
  const server = await fakeCa(t, ca, success());
  const poll = { profile: 'user-auth', ca: { url: server.url, fingerprint: ca.fingerprint }, key };
  for (const state of [
    '{"v":2}',
    'garbage',
    '{"v":1,"transactionId":"x","subject":"!!","more":1}',
    '{"v":1,"transactionId":"x","subject":"AAAA"}',
  ])
    await t.throwsAsync(enroller().poll({ ...poll, state: new TextEncoder().encode(state) }), {
      code: 'E_ENROLL_PROTOCOL',
      message: /state this plugin did not write/,
    } as never);
  t.is(server.requests.length, 0);
});

for (const [code, name] of [
  ['0', 'badAlg'],
  ['1', 'badMessageCheck'],
  ['2', 'badRequest'],
  ['3', 'badTime'],
  ['4', 'badCertId'],
] as const) {
  test(`FAILURE with failInfo ${name}: E_ENROLL_REFUSED naming it`, async (t) => {
    const server = await fakeCa(t, ca, (m) => ({
      body: certRep({ signer: ca, request: m, pkiStatus: '2', failInfo: code }),
    }));
    const error = await t.throwsAsync(enroller().request(requestFor(server.url)), {
      code: 'E_ENROLL_REFUSED',
      message: new RegExp(`failInfo ${name}`),
    } as never);
    assertNoChallenge(t, error);
  });
}

test('garbage in reply to PKIOperation: refused as not DER', async (t) => {
  const server = await fakeCa(t, ca, () => ({ body: `<html>${CHALLENGE}</html>` }));
  const error = await t.throwsAsync(
    enroller().request(requestFor(server.url)),
    protocolRefusal(/not one DER structure/),
  );
  assertNoChallenge(t, error);
});

test('a truncated CertRep: refused', async (t) => {
  const server = await fakeCa(t, ca, (m) => {
    const whole = success()(m).body;
    return { body: whole.subarray(0, Math.floor(whole.length / 2)) };
  });
  await t.throwsAsync(enroller().request(requestFor(server.url)), protocolRefusal(/not one DER structure/));
});

test('a CertRep naming the CA as signer but signed with another key: refused, the signature does not verify', async (t) => {
  const server = await fakeCa(t, ca, (m) => ({
    body: certRep({
      signer: impostor,
      sid: ca.certificate,
      request: m,
      pkiStatus: '0',
      content: issuedEnvelope(ca, m, key.publicKey),
    }),
  }));
  await t.throwsAsync(
    enroller().request(requestFor(server.url)),
    protocolRefusal(/signature does not verify/),
  );
});

test('a CertRep signed by a certificate the CA did not issue (carried in the reply): refused', async (t) => {
  const server = await fakeCa(t, ca, success(impostor));
  await t.throwsAsync(
    enroller().request(requestFor(server.url)),
    protocolRefusal(/not signed by the pinned CA/),
  );
});

test('a CertRep with another recipientNonce (a replay): refused', async (t) => {
  const server = await fakeCa(t, ca, (m) => ({
    body: certRep({ signer: ca, request: m, pkiStatus: '3', recipientNonce: new Uint8Array(16) }),
  }));
  await t.throwsAsync(enroller().request(requestFor(server.url)), protocolRefusal(/recipientNonce/));
});

test('a CertRep for another transaction: refused', async (t) => {
  const server = await fakeCa(t, ca, (m) => ({
    body: certRep({ signer: ca, request: m, pkiStatus: '3', transactionId: 'ANOTHER' }),
  }));
  await t.throwsAsync(enroller().request(requestFor(server.url)), protocolRefusal(/transactionID/));
});

test('a SUCCESS whose certificate is for another key: refused', async (t) => {
  const other = rsaKey();
  const server = await fakeCa(t, ca, (m) => ({
    body: certRep({
      signer: ca,
      request: m,
      pkiStatus: '0',
      content: issuedEnvelope(ca, m, other.publicKey),
    }),
  }));
  await t.throwsAsync(
    enroller().request(requestFor(server.url)),
    protocolRefusal(/none of its certificates is for the request key/),
  );
});

test('a huge reply is cut off at the bound, announced or not', async (t) => {
  const chunk = Buffer.alloc(64 * 1024, 0x30);
  const server = await fakeCa(t, ca, () => ({
    body: (res) => {
      let sent = 0;
      const more = (): void => {
        while (sent <= SCEP_REPLY_MAX_BYTES * 2) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    },
  }));
  await t.throwsAsync(
    enroller().request(requestFor(server.url)),
    protocolRefusal(/more than the 1048576 credroam reads/),
  );
  const announced = await fakeCa(t, ca, () => ({
    headers: { 'content-length': String(SCEP_REPLY_MAX_BYTES + 1) },
    body: (res) => res.flushHeaders(),
  }));
  await t.throwsAsync(enroller().request(requestFor(announced.url)), protocolRefusal(/announced 1048577/));
});

test('HTTP 500: E_ENROLL_REFUSED with the status and a short, printable part of the body, the challenge blotted out', async (t) => {
  const server = await fakeCa(t, ca, () => ({
    status: 500,
    headers: { 'content-type': 'text/plain' },
    body: `bad challenge ${CHALLENGE}\u0000\u001b[31m${'x'.repeat(5000)}`,
  }));
  const error = await t.throwsAsync(enroller().request(requestFor(server.url)), {
    code: 'E_ENROLL_REFUSED',
    message: /HTTP 500: "bad challenge … \[31mxxx/,
  } as never);
  assertNoChallenge(t, error);
  t.true((error?.message.length ?? 0) < 400);
});

test('a server that never answers: E_UNREACHABLE after timeoutSeconds', async (t) => {
  const server = await fakeCa(t, ca, () => ({ body: () => undefined }));
  await t.throwsAsync(enroller(1).request(requestFor(server.url)), {
    code: 'E_UNREACHABLE',
    message: /did not answer PKIOperation within 1 s/,
  } as never);
});

test('GetCACert answering garbage: refused before anything else is sent', async (t) => {
  const server = await fakeCa(t, ca, success(), { caCert: { body: 'not a certificate' } });
  await t.throwsAsync(
    enroller().request(requestFor(server.url)),
    protocolRefusal(/GetCACert .*not one DER structure/),
  );
  t.deepEqual(
    server.requests.map((r) => r.operation),
    ['GetCACert'],
  );
});

test('a server without POSTPKIOperation gets the message by GET (base64), and answers', async (t) => {
  const server = await fakeCa(t, ca, success(), { caps: '' });
  t.is((await enroller().request(requestFor(server.url))).status, 'issued');
  t.is(server.requests.find((r) => r.operation === 'PKIOperation')?.method, 'GET');
});

test('an unknown subject attribute, or a bad SAN: E_ENROLL_PROFILE before anything is sent', async (t) => {
  const server = await fakeCa(t, ca, success());
  await t.throwsAsync(enroller().request(requestFor(server.url, { subject: 'XX=alice' })), {
    code: 'E_ENROLL_PROFILE',
    message: /unknown attribute type 'XX'/,
  } as never);
  await t.throwsAsync(
    enroller().request(requestFor(server.url, { subjectAltNames: [{ type: 'dns', value: 'a b' }] })),
    { code: 'E_ENROLL_PROFILE', message: /printable ASCII/ } as never,
  );
  t.is(server.requests.length, 0);
});

/** An RA certificate for a fresh key, issued by `issuer`, for keyEncipherment and digitalSignature. */
function raOf(issuer: TestSigner, name: string): TestSigner {
  const own = testSigner(name);
  const spki = new Uint8Array(
    new X509Certificate(own.certificate).publicKey.export({ format: 'der', type: 'spki' }),
  );
  return { ...own, certificate: issueCertificate(issuer, own.certificate, spki, 0xa0) };
}
const serialOf = (der: Uint8Array) => new X509Certificate(der).serialNumber.toLowerCase();
const raCerts = (certs: readonly Uint8Array[]) => ({
  headers: { 'content-type': 'application/x-x509-ca-ra-cert' },
  body: certsOnly(certs),
});

test('an RA the pinned CA issued: requests are encrypted to it, and its signature on the CertRep accepted', async (t) => {
  const ra = raOf(ca, 'CN=Fake RA');
  const server = await fakeCa(t, ca, success(ra), { caCert: raCerts([ra.certificate, ca.certificate]) });
  const outcome = await enroller().request(requestFor(server.url));
  t.is(outcome.status, 'issued');
  if (outcome.status !== 'issued') return;
  t.is(outcome.caCertificates.length, 2);
  t.is(
    server.requests.find((r) => r.operation === 'PKIOperation')?.message?.recipientSerial,
    serialOf(ra.certificate),
  );
});

test('an "RA" the pinned CA did not issue is ignored: the request goes to the CA, and its CertRep is refused', async (t) => {
  const ra = raOf(impostor, 'CN=Impostor RA');
  const server = await fakeCa(t, ca, success(ra), { caCert: raCerts([ra.certificate, ca.certificate]) });
  await t.throwsAsync(
    enroller().request(requestFor(server.url)),
    protocolRefusal(/not signed by the pinned CA/),
  );
  t.is(
    server.requests.find((r) => r.operation === 'PKIOperation')?.message?.recipientSerial,
    serialOf(ca.certificate),
  );
});

test('a ca.url that is not http(s), or carries a password: E_POLICY, nothing sent', async (t) => {
  for (const url of ['ftp://ca.example.org/scep', 'http://user:pw@ca.example.org/scep', 'not a url'])
    await t.throwsAsync(enroller().request(requestFor(url)), { code: 'E_POLICY' } as never);
});
