import { execFileSync } from 'node:child_process';
import type { EnrollmentRequest } from '@credroam/core/api';
import test from 'ava';
import { BODY } from '../src/asn1/pki-message.js';
import { CmpEnroller, cmpSettings } from '../src/index.js';
import { MAX_REPLY_BYTES } from '../src/transport.js';
import { fakeCa, type ReplyOptions, reply, unprotected } from './support/fake-ca.js';
import { type IssuedKey, issueFor, makeCa, type Pki, removePki } from './support/pki.js';

const SECRET = 'shared secret';
let pki: Pki;
let alice: IssuedKey;
let good: ReplyOptions;
test.before(async () => {
  pki = await makeCa();
  alice = await issueFor(pki, 'alice');
  const caDer = execFileSync('openssl', ['x509', '-in', pki.caPem, '-outform', 'DER']);
  good = { secret: SECRET, certificate: alice.certDer, caCertificate: new Uint8Array(caDer) };
});
test.after.always(() => (pki ? removePki(pki) : undefined));

const enroller = (timeoutSeconds = 30) => new CmpEnroller(cmpSettings({ reference: 'r', timeoutSeconds }));
const request = (url: string): EnrollmentRequest => ({
  profile: 'vpn',
  ca: { url, fingerprint: pki.fingerprint },
  subject: 'CN=alice',
  subjectAltNames: [],
  key: alice.key,
  challenge: SECRET,
});

test('the fake CA itself: a good reply is issued (so each case below fails for its one fault)', async (t) => {
  const ca = await fakeCa(t, (m) => reply(m, good));
  const outcome = await enroller().request(request(ca.url));
  t.is(outcome.status, 'issued');
  t.deepEqual(
    ca.requests.map((r) => r.bodyType),
    [BODY.ir, BODY.certConf],
  );
});

const refusals: [string, Parameters<typeof fakeCa>[1], RegExp][] = [
  [
    'garbage',
    () => Buffer.from('hello, I am not CMP'),
    /the CA's answer to ir is refused: the reply is not a CMP message/,
  ],
  ['a truncated reply', (m) => reply(m, good).subarray(0, 200), /the reply is not a CMP message/],
  [
    'an unprotected ip',
    (m) => unprotected(reply(m, good)),
    /the ip reply is not protected: a reply must carry the MAC/,
  ],
  [
    'an ip with the MAC of another secret',
    (m) => reply(m, { ...good, secret: 'another' }),
    /the ip reply is protected with another secret/,
  ],
  [
    'a wrong recipNonce',
    (m) => reply(m, { ...good, recipNonce: new Uint8Array(16) }),
    /recipNonce is not the nonce we sent/,
  ],
  [
    'another transactionID',
    (m) => reply(m, { ...good, transactionID: new Uint8Array(16) }),
    /is for another transaction/,
  ],
  [
    'a huge reply',
    () => Buffer.alloc(MAX_REPLY_BYTES + 1),
    /sent a reply larger than 1048576 bytes: refused/,
  ],
  [
    'a huge reply without a length',
    (_m, res) => {
      res.writeHead(200, { 'content-type': 'application/pkixcmp' });
      for (let i = 0; i < 20; i += 1) res.write(Buffer.alloc(64 * 1024));
      res.end();
      return undefined;
    },
    /sent a reply larger than 1048576 bytes: refused/,
  ],
  [
    'another content type',
    (_m, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>');
      return undefined;
    },
    /answered "text\/html", not application\/pkixcmp: is the URL a CMP endpoint\?/,
  ],
  [
    'HTTP 500',
    (_m, res) => {
      res.writeHead(500);
      res.end();
      return undefined;
    },
    /answered HTTP 500$/,
  ],
  [
    'a pkiConf where the certificate was due',
    (m) => reply({ ...m, bodyType: BODY.certConf }, good),
    /refused: pkiconf, not ip/,
  ],
];

for (const [name, answer, message] of refusals) {
  // An HTTP error is the server saying no; anything else is not a CMP answer to this request.
  const code = name === 'HTTP 500' ? 'E_ENROLL_REFUSED' : 'E_ENROLL_PROTOCOL';
  test(`attacker: ${name} is refused (${code}), clearly`, async (t) => {
    const ca = await fakeCa(t, answer);
    await t.throwsAsync(enroller().request(request(ca.url)), { code, message } as never);
  });
}

test('a pkiConf that does not verify after certConf: refused, the certificate not returned', async (t) => {
  const ca = await fakeCa(t, (m) =>
    m.bodyType === BODY.certConf ? reply(m, { ...good, secret: 'x' }) : reply(m, good),
  );
  await t.throwsAsync(enroller().request(request(ca.url)), {
    code: 'E_ENROLL_PROTOCOL',
    message: /answer to certConf is refused: the pkiconf reply is protected with another secret/,
  } as never);
});

test('a CA that never answers: E_UNREACHABLE after timeoutSeconds', async (t) => {
  const ca = await fakeCa(t, () => undefined);
  await t.throwsAsync(enroller(1).request(request(ca.url)), {
    code: 'E_UNREACHABLE',
    message: /did not answer within 1 s/,
  } as never);
});
