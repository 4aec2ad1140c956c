import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { openssl, twoEndpoints } from '../support.js';
import {
  amendManifest,
  certificatesIn,
  clientCredential,
  keysIn,
  nssDatabase,
  testCa,
} from './mirror-support.js';

/** Issue: `credroam import` into an nss primary store failed (E_NSS_KEY_WAITS), nothing stored. */

interface ListJson {
  credentials: Array<{ sha256: string; friendlyName?: string; hasKey: boolean; key: string }>;
}

test('import into an nss primary store: a PKCS#12 and a PEM certificate and key go in with their keys, and list shows them', async (t) => {
  const w = await twoEndpoints(t);
  await testCa(w.dir);
  const database = path.join(w.dir, 'nssdb');
  await mkdir(database, { recursive: true, mode: 0o700 });
  await nssDatabase(database);
  await amendManifest(path.join(w.dir, 'a.json'), {
    localStore: { use: 'nss', settings: { database, create: false } },
  });
  const alice = await clientCredential(w.dir, 'alice', { friendlyName: 'Alice VPN' });
  const bob = await clientCredential(w.dir, 'bob');

  const p12 = await w.a(['import', alice.file, '--passin', 'file:p12pw', ...w.pw]);
  t.is(p12.code, 0, p12.stderr);
  t.regex(p12.stdout, /imported [0-9a-f]{64} with its private key/);
  const pem = await w.a(['import', bob.cert, bob.key, ...w.pw]);
  t.is(pem.code, 0, pem.stderr);

  const list = JSON.parse((await w.a(['list', '--json', ...w.pw])).stdout) as ListJson;
  const byId = new Map(list.credentials.map((c) => [c.sha256, c]));
  t.like(byId.get(alice.fingerprint), { hasKey: true, friendlyName: 'Alice VPN' });
  t.like(byId.get(bob.fingerprint), { hasKey: true });
  // NSS holds both as user certificates, each with its key.
  const certs = await certificatesIn(database);
  t.true(certs.includes('Alice VPN u,u,u'), certs.join('\n'));
  t.true(certs.includes('bob u,u,u'), certs.join('\n'));
  t.is((await keysIn(database)).length, 2);

  // A bundle of the CA and alice's certificate imported after: the nickname stays "Alice VPN".
  await openssl(
    ['crl2pkcs7', '-nocrl', '-certfile', 'alice.cert.pem', '-certfile', 'ca.pem', '-out', 'chain.p7b'],
    w.dir,
  );
  const bundle = await w.a(['import', path.join(w.dir, 'chain.p7b')]);
  t.is(bundle.code, 0, bundle.stderr);
  const again = JSON.parse((await w.a(['list', '--json', ...w.pw])).stdout) as ListJson;
  t.like(
    again.credentials.find((c) => c.sha256 === alice.fingerprint),
    { hasKey: true, friendlyName: 'Alice VPN' },
  );
  t.true((await certificatesIn(database)).includes('Alice VPN u,u,u'));
});
