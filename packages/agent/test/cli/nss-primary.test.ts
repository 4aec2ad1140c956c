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

/** An NSS database as the primary local store, without mirrors: import, list, doctor, status. */

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

test('doctor and status show the primary store when nss is the primary and there are no mirrors', async (t) => {
  const w = await twoEndpoints(t);
  await testCa(w.dir);
  const database = path.join(w.dir, 'nssdb');
  await nssDatabase(database);
  await amendManifest(path.join(w.dir, 'a.json'), {
    localStore: { use: 'nss', settings: { database, create: false } },
  });
  const alice = await clientCredential(w.dir, 'alice', { friendlyName: 'Alice VPN' });
  t.is((await w.a(['import', alice.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);

  const doctor = await w.a(['doctor', '--json']);
  const report = JSON.parse(doctor.stdout) as {
    checks: Array<{ check: string; ok: boolean; detail: string }>;
  };
  t.deepEqual(
    report.checks.filter((c) => c.check === 'destination'),
    [{ check: 'destination', ok: true, detail: 'the nss store (primary): holds 1 credential(s)' }],
  );
  // Right after the policy: the local store is checked before the directory.
  t.is(report.checks[1]?.check, 'destination');
  t.regex(
    (await w.a(['doctor'])).stdout,
    /^ok {3}destination: the nss store \(primary\): holds 1 credential\(s\)$/m,
  );
  t.regex((await w.a(['status'])).stdout, /^primary the nss store \(primary\): 1 credential\(s\)$/m);
});
