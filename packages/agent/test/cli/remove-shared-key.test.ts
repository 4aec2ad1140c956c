import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeHeader, TokenFlag } from '@credroam/core/engine';
import test from 'ava';
import { fingerprintOf, openssl, opensslP12, twoEndpoints } from '../support.js';

interface ListJson {
  credentials: Array<{ sha256: string; hasKey: boolean; keyId: string }>;
}

/**
 * A second certificate on the key of `opensslP12`'s credential (a renewal that kept its key, or a
 * second profile): `renewed.cert.pem` in `dir`. Its SHA-256 fingerprint.
 */
async function renewedOnTheKey(dir: string): Promise<string> {
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
    dir,
  );
  return fingerprintOf(
    await openssl(['x509', '-in', 'renewed.cert.pem', '-noout', '-fingerprint', '-sha256'], dir),
  );
}

test('remove of a certificate whose key another certificate here also uses keeps the key: no tombstone for it, the other certificate keeps its key on every endpoint', async (t) => {
  const w = await twoEndpoints(t);
  const first = await opensslP12(w.dir);
  const renewed = await renewedOnTheKey(w.dir);
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

test('remove at an endpoint that has not met another certificate on the key yet (it came from another endpoint; or a directory writer hid it meanwhile) costs that certificate its key on no endpoint', async (t) => {
  for (const hidden of [false, true]) {
    const w = await twoEndpoints(t);
    const first = await opensslP12(w.dir);
    const renewed = await renewedOnTheKey(w.dir);
    t.is((await w.a(['logon', ...w.pw])).code, 0);
    t.is((await w.a(['import', first.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
    t.is((await w.a(['sync', ...w.pw])).code, 0);
    // B meets the first, then gets a second certificate on its key (a renewal that kept it).
    t.is((await w.b(['logon', ...w.pw])).code, 0);
    const second = await w.b(['import', 'renewed.cert.pem', 'alice.key.pem', ...w.pw]);
    t.is(second.code, 0, second.stderr);
    t.is((await w.b(['sync', ...w.pw])).code, 0);

    // A directory writer takes the renewed certificate's value away while A syncs, then puts it back.
    const file = path.join(w.dir, 'directory', 'alice', 'values');
    const values = JSON.parse(await readFile(file, 'utf8')) as { tokens: string[]; keys: string[] };
    const isRenewed = (v: string) => {
      const d = decodeHeader(new Uint8Array(Buffer.from(v, 'base64')), 1 << 20);
      return d.ok && d.header.kind === 'cert' && d.header.id === renewed;
    };
    if (hidden) {
      await writeFile(
        file,
        JSON.stringify({ ...values, tokens: values.tokens.filter((v) => !isRenewed(v)) }),
      );
    }
    // A, which has not met the renewed certificate, removes the first: the key goes with it here.
    const removed = await w.a(['remove', first.fingerprint, '--json']);
    t.is(removed.code, 0, removed.stderr);
    const synced = await w.a(['sync', ...w.pw]);
    t.is(synced.code, 0, synced.stdout);
    if (hidden) {
      const now = JSON.parse(await readFile(file, 'utf8')) as { tokens: string[]; keys: string[] };
      await writeFile(
        file,
        JSON.stringify({ ...now, tokens: [...now.tokens, ...values.tokens.filter(isRenewed)] }),
      );
    }
    for (const e of [w.b, w.a, w.b, w.a]) {
      const r = await e(['sync', '--full', ...w.pw]);
      t.is(r.code, 0, r.stdout);
    }
    // Behind, A puts the key back itself. With the certificate hidden, A's deletion roamed: B, which
    // holds the certificate, keeps the key (it does not write it back over the deletion: see below).
    for (const [e, hasKey] of [
      [w.a, !hidden],
      [w.b, true],
    ] as const) {
      const list = JSON.parse((await e(['list', '--json', ...w.pw])).stdout) as ListJson;
      t.deepEqual(
        list.credentials.map((c) => [c.sha256, c.hasKey]),
        [[renewed, hasKey]],
        `${hidden ? 'hidden: ' : ''}${e === w.a ? 'A' : 'B'}`,
      );
    }
  }
});

test('a directory writer who deletes a removed certificate’s tombstone and replays its value does not have an endpoint behind bring its deleted key back', async (t) => {
  const w = await twoEndpoints(t);
  const first = await opensslP12(w.dir);
  t.is((await w.a(['logon', ...w.pw])).code, 0);
  t.is((await w.a(['import', first.file, '--passin', 'file:p12pw', ...w.pw])).code, 0);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  t.is((await w.b(['logon', ...w.pw])).code, 0);
  const file = path.join(w.dir, 'directory', 'alice', 'values');
  const header = (v: string) => {
    const d = decodeHeader(new Uint8Array(Buffer.from(v, 'base64')), 1 << 20);
    return d.ok ? d.header : undefined;
  };
  const read = async () => JSON.parse(await readFile(file, 'utf8')) as { tokens: string[]; keys: string[] };
  const live = (await read()).tokens.filter((v) => header(v)?.kind === 'cert');
  // The user removes the credential at A; both tombstones roam.
  t.is((await w.a(['remove', first.fingerprint])).code, 0);
  t.is((await w.a(['sync', ...w.pw])).code, 0);
  // The writer deletes the certificate's tombstone and puts its old value back.
  const after = await read();
  await writeFile(
    file,
    JSON.stringify({
      ...after,
      tokens: [...after.tokens.filter((v) => header(v)?.kind !== 'cert'), ...live],
    }),
  );
  for (const e of [w.b, w.a, w.b, w.a]) await e(['sync', '--full', ...w.pw]);
  const keys = (await read()).tokens.map(header).filter((h) => h?.kind === 'key');
  t.true(
    keys.every((h) => (h!.flags & TokenFlag.Tombstone) !== 0),
    'no live value of the deleted key in the directory',
  );
  for (const e of [w.a, w.b]) {
    const list = JSON.parse((await e(['list', '--json', ...w.pw])).stdout) as ListJson;
    t.deepEqual(list.credentials, [], e === w.a ? 'A' : 'B');
  }
});
