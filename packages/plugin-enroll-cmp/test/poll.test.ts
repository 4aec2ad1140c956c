import type { NamespacedServer } from '@credroam/core/testing';
import test from 'ava';
import { CmpEnroller, cmpSettings } from '../src/index.js';
import { REFERENCE, SECRET, startMockCa, urlOf } from './support/mock-server.js';
import { type IssuedKey, issueFor, makeCa, type Pki, removePki } from './support/pki.js';

// OpenSSL's mock CA answering `waiting` first and pollRep (checkAfter 1) until the second pollReq.
let pki: Pki;
let alice: IssuedKey;
let server: NamespacedServer;
test.before(async () => {
  pki = await makeCa();
  alice = await issueFor(pki, 'alice');
  server = await startMockCa(pki, alice.certPem, ['-poll_count', '2', '-check_after', '1']);
});
test.after.always(async () => {
  await server?.stop();
  if (pki) await removePki(pki);
});

const enroller = () => new CmpEnroller(cmpSettings({ reference: REFERENCE }));

test.serial(
  'waiting → pending with the CA checkAfter; another endpoint resumes from the state alone and gets the certificate',
  async (t) => {
    const ca = { url: urlOf(server), fingerprint: pki.fingerprint };
    const first = await enroller().request({
      profile: 'vpn',
      ca,
      subject: 'CN=alice',
      subjectAltNames: [{ type: 'dns', value: 'alice.example.org' }],
      key: alice.key,
      challenge: SECRET,
    });
    if (first.status !== 'pending') return t.fail(`not pending: ${first.status}`);
    t.is(first.checkAfterSeconds, 1);
    const state = JSON.parse(Buffer.from(first.state).toString('utf8'));
    t.deepEqual(Object.keys(state).sort(), [
      'certReqId',
      'recipNonce',
      'subject',
      'transactionID',
      'update',
      'v',
    ]);
    t.false(Buffer.from(first.state).toString().includes(SECRET));
    // As the request token carries it: bytes, through JSON, to a new enroller (another endpoint).
    const roamed = new Uint8Array(
      Buffer.from(JSON.stringify({ state: Buffer.from(first.state).toString('base64') })),
    );
    const state2 = Buffer.from(JSON.parse(Buffer.from(roamed).toString()).state, 'base64');
    const second = await enroller().poll({
      profile: 'vpn',
      ca,
      key: alice.key,
      challenge: SECRET,
      state: state2,
    });
    if (second.status !== 'issued') return t.fail(`not issued: ${second.status}`);
    t.true(Buffer.from(second.certificate).equals(Buffer.from(alice.certDer)));
  },
);

test.serial('a state that is not one the enroller wrote is refused, naming the profile', async (t) => {
  const ca = { url: urlOf(server), fingerprint: pki.fingerprint };
  for (const state of ['{}', 'not json', JSON.stringify({ v: 1, transactionID: 'zz' })])
    await t.throwsAsync(
      enroller().poll({ profile: 'vpn', ca, key: alice.key, challenge: SECRET, state: Buffer.from(state) }),
      {
        code: 'E_ENROLL_PROTOCOL',
        message: /^profile 'vpn': the pending CMP request cannot be resumed: its state is not/,
      } as never,
    );
});
