import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { enrollerContract, type NamespacedServer } from '@credroam/core/testing';
import test from 'ava';
import { CmpEnroller, cmpSettings } from '../src/index.js';
import { REFERENCE, SECRET, startMockCa, urlOf } from './support/mock-server.js';
import { type IssuedKey, issueFor, makeCa, type Pki, removePki } from './support/pki.js';

// The Enroller contract against OpenSSL's mock CMP server (in its own loopback-only namespace),
// answering `waiting` once so the contract meets a pending request too. One transaction at a time:
// the contract's tests run serially here.
let pki: Pki;
let alice: IssuedKey;
let server: NamespacedServer;
test.before(async () => {
  pki = await makeCa();
  alice = await issueFor(pki, 'alice');
  server = await startMockCa(pki, alice.certPem, ['-poll_count', '1', '-check_after', '0']);
});
test.after.always(async () => {
  await server?.stop();
  if (pki) await removePki(pki);
});

enrollerContract(test.serial, 'cmp', async () => ({
  enroller: new CmpEnroller(cmpSettings({ reference: REFERENCE })),
  ca: { url: urlOf(server), certificate: new Uint8Array(new X509Certificate(await readFile(pki.caPem)).raw) },
  request: { subject: 'CN=alice', subjectAltNames: [], key: alice.key, challenge: SECRET },
}));
