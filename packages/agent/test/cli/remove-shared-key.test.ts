import test from 'ava';
import { fingerprintOf, openssl, opensslP12, twoEndpoints } from '../support.js';

interface ListJson {
  credentials: Array<{ sha256: string; hasKey: boolean; keyId: string }>;
}

test('remove of a certificate whose key another certificate here also uses keeps the key: no tombstone for it, the other certificate keeps its key on every endpoint', async (t) => {
  const w = await twoEndpoints(t);
  const first = await opensslP12(w.dir);
  // A second certificate on the same key (a renewal that kept its key, or a second profile).
  await openssl(
    [
      'req',
      '-x509',
      '-key',
      'alice.key.pem',
      '-out',
      'renewed.cert.pem',
      '-days',
      '60',
      '-subj',
      '/CN=alice renewed',
    ],
    w.dir,
  );
  const renewed = fingerprintOf(
    await openssl(['x509', '-in', 'renewed.cert.pem', '-noout', '-fingerprint', '-sha256'], w.dir),
  );
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', first.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  const second = await w.a(['import', 'renewed.cert.pem', 'alice.key.pem', ...w.pw]);
  t.is(second.code, 0, second.stderr);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  t.is((await w.b(['logon', ...w.pw])).code, 0);

  const removed = await w.a(['remove', first.fingerprint, '--json']);
  t.is(removed.code, 0, removed.stderr);
  t.like(JSON.parse(removed.stdout), { removed: first.fingerprint, hasKey: true, keyKept: true });
  t.like(JSON.parse((await w.a(['sync', ...w.pw, '--json'])).stdout), { counts: { tombstoned: 1 } });
  t.is((await w.b(['sync', ...w.pw])).code, 0);
  for (const e of [w.a, w.b]) {
    const list = JSON.parse((await e(['list', '--json', ...w.pw])).stdout) as ListJson;
    t.deepEqual(
      list.credentials.map((c) => [c.sha256, c.hasKey]),
      [[renewed, true]],
    );
  }
});
