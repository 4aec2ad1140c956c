import type { EnrollmentRequest } from '@credroam/core/api';
import type { NamespacedServer } from '@credroam/core/testing';
import test from 'ava';
import { CmpEnroller, cmpSettings } from '../src/index.js';
import { REFERENCE, SECRET, startMockCa, urlOf } from './support/mock-server.js';
import { type IssuedKey, issueFor, makeCa, type Pki, removePki } from './support/pki.js';

// Two mock CAs that say no: one with a rejection in ip, one with an error message.
let pki: Pki;
let alice: IssuedKey;
let rejecting: NamespacedServer;
let erring: NamespacedServer;
test.before(async () => {
  pki = await makeCa();
  alice = await issueFor(pki, 'alice');
  rejecting = await startMockCa(pki, alice.certPem, [
    '-pkistatus',
    '2',
    '-failure',
    '19',
    '-statusstring',
    'subject not allowed\nhere',
  ]);
  erring = await startMockCa(pki, alice.certPem, ['-send_error']);
});
test.after.always(async () => {
  await rejecting?.stop();
  await erring?.stop();
  if (pki) await removePki(pki);
});

const request = (server: NamespacedServer): EnrollmentRequest => ({
  profile: 'vpn',
  ca: { url: urlOf(server), fingerprint: pki.fingerprint },
  subject: 'CN=alice',
  subjectAltNames: [],
  key: alice.key,
  challenge: SECRET,
});
const enroller = () => new CmpEnroller(cmpSettings({ reference: REFERENCE }));

test('rejection in ip: E_ENROLL_REFUSED naming the failure bit and the CA text (control characters removed)', async (t) => {
  await t.throwsAsync(enroller().request(request(rejecting)), {
    code: 'E_ENROLL_REFUSED',
    message: `profile 'vpn': the CA refused the request: rejection (badCertTemplate): "subject not allowed here"`,
  } as never);
});

test('an error message: E_ENROLL_REFUSED naming its status', async (t) => {
  const error = await t.throwsAsync(enroller().request(request(erring)), {
    code: 'E_ENROLL_REFUSED',
  } as never);
  t.regex(error!.message, /^profile 'vpn': the CA's answer to ir is an error: rejection/);
  t.notRegex(error!.message, /not authenticated/);
});
