import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { decodeCredentialAttributes } from '@credroam/core';
import test from 'ava';
import { certutil, credential, nicknames, pk12util, setup, signsFor, T0 } from './support.js';

for (const type of ['rsa', 'ec'] as const) {
  test(`${type}: a credential put in the NSS database lists back the same: certificate bytes, key that signs for it`, async (t) => {
    const { root, store, database } = await setup(t);
    const c = await credential(root, `alice-${type}`, type);
    const before = await store.revision();
    await store.put(c.cert);
    await store.put(c.key);
    t.not(await store.revision(), before);
    const { items, unreadable } = await store.list();
    t.deepEqual(unreadable, []);
    t.deepEqual(
      items.map((i) => `${i.kind}:${i.id}`).sort(),
      [`cert:${c.cert.id}`, `key:${c.key.id}`].sort(),
    );
    const cert = items.find((i) => i.kind === 'cert')!;
    t.deepEqual(Buffer.from(cert.content), Buffer.from(c.cert.content));
    t.is(cert.modified, c.cert.modified);
    t.false(cert.archived);
    const key = items.find((i) => i.kind === 'key')!;
    t.is(key.id, c.key.id);
    t.true(signsFor(key.content, c.cert.content));
    // NSS itself holds both: the certificate as a user certificate (with its key).
    t.regex(await certutil(['-L', '-d', `sql:${database}`]), new RegExp(`alice-${type}\\s+u,u,u`));
    t.deepEqual(await nicknames(database), [`alice-${type}`]);
  });
}

test('Ed25519: NSS 3.87 takes neither the certificate nor the key: a clear error (E_NSS_KEY_TYPE), nothing half-written', async (t) => {
  const { root, store, database } = await setup(t);
  const c = await credential(root, 'edward', 'ed25519');
  await t.throwsAsync(store.put(c.cert), { code: 'E_NSS_KEY_TYPE', message: /ed25519/ } as never);
  // Its certificate never comes: the error says the key is not stored, and what to do.
  await t.throwsAsync(store.put(c.key), {
    code: 'E_NSS_KEY_WAITS',
    message: /if the certificate never comes, the key is not stored: import the certificate with its key/,
  } as never);
  t.deepEqual(await store.list(), { items: [], unreadable: [] });
  t.deepEqual(await nicknames(database), []);
});

test('a key put before its certificate waits (E_NSS_KEY_WAITS) and goes in with it', async (t) => {
  const { root, store } = await setup(t);
  const c = await credential(root, 'early', 'ec');
  await t.throwsAsync(store.put(c.key), { code: 'E_NSS_KEY_WAITS' } as never);
  t.deepEqual((await store.list()).items, [], 'nothing in the database yet');
  await store.put(c.cert);
  const { items } = await store.list();
  t.deepEqual(items.map((i) => `${i.kind}:${i.id}`).sort(), [`cert:${c.cert.id}`, `key:${c.key.id}`].sort());
  t.true(signsFor(items.find((i) => i.kind === 'key')!.content, c.cert.content));
  // The engine puts the key again at its next sync: nothing changes.
  await store.put(c.key);
  t.is((await store.list()).items.length, 2);
});

test('remove keeps the certificate, key and attributes in removed/ (owner-only) until the time given; the revision changes', async (t) => {
  const { root, store, database, stateDir } = await setup(t);
  const c = await credential(root, 'bob', 'rsa');
  await store.put(c.cert);
  await store.put(c.key);
  await store.list();
  const r1 = await store.revision();
  const keepUntil = Date.now() + 86_400_000;
  await store.remove('cert', c.cert.id, { keepUntil });
  // The key stays until its own removal: without its certificate NSS cannot export it, so it is
  // reported (with its id: the engine leaves it alone) and not lost.
  const between = await store.list();
  t.deepEqual(between.items, []);
  t.like(between.unreadable[0], { kind: 'key', id: c.key.id });
  await store.remove('key', c.key.id, { keepUntil });
  t.not(await store.revision(), r1);
  t.deepEqual(await store.list(), { items: [], unreadable: [] });
  t.deepEqual(await nicknames(database), []);
  const removed = path.join(stateDir, 'removed');
  t.deepEqual(
    (await readdir(removed)).sort(),
    [`${keepUntil}-cert-${c.cert.id}.der`, `${keepUntil}-key-${c.key.id}.p8`].sort(),
  );
  t.deepEqual(
    new Uint8Array(await readFile(path.join(removed, `${keepUntil}-cert-${c.cert.id}.der`))),
    c.cert.content,
  );
  t.true(signsFor(await readFile(path.join(removed, `${keepUntil}-key-${c.key.id}.p8`)), c.cert.content));
  for (const f of await readdir(removed)) t.is((await stat(path.join(removed, f))).mode & 0o777, 0o600);
  t.is((await stat(removed)).mode & 0o777, 0o700);
});

test('removing the key first leaves the certificate listed as a certificate without a key', async (t) => {
  const { root, store, stateDir } = await setup(t);
  const c = await credential(root, 'carol', 'ec');
  await store.put(c.cert);
  await store.put(c.key);
  await store.list();
  const keepUntil = Date.now() + 86_400_000;
  await store.remove('key', c.key.id, { keepUntil });
  t.deepEqual(
    (await store.list()).items.map((i) => `${i.kind}:${i.id}`),
    [`cert:${c.cert.id}`],
  );
  t.true(
    signsFor(
      await readFile(path.join(stateDir, 'removed', `${keepUntil}-key-${c.key.id}.p8`)),
      c.cert.content,
    ),
  );
  await store.remove('cert', c.cert.id);
  t.deepEqual(await store.list(), { items: [], unreadable: [] });
});

test('archived certificates list as archived, and back', async (t) => {
  const { root, store } = await setup(t);
  const c = await credential(root, 'dave', 'ec');
  await store.put(c.cert);
  await store.put(c.key);
  await store.put({ ...c.cert, archived: true, modified: T0 + 1 });
  let cert = (await store.list()).items.find((i) => i.kind === 'cert')!;
  t.true(cert.archived);
  t.is(cert.modified, T0 + 1);
  await store.put({ ...c.cert, archived: false, modified: T0 + 2 });
  cert = (await store.list()).items.find((i) => i.kind === 'cert')!;
  t.false(cert.archived);
});

test('a credential a browser imports (pk12util -i) is listed with its key and name, and the revision changes; one deleted there (certutil -D, -F) disappears', async (t) => {
  const { root, store, database } = await setup(t);
  const c = await credential(root, 'browser', 'rsa', { friendlyName: 'Imported in Chromium' });
  const r0 = await store.revision();
  t.deepEqual(await store.list(), { items: [], unreadable: [] });
  await pk12util(['-i', c.p12, '-d', `sql:${database}`, '-w', c.pass, '-k', '/dev/null']);
  const r1 = await store.revision();
  t.not(r1, r0);
  const { items, unreadable } = await store.list();
  t.deepEqual(unreadable, []);
  t.deepEqual(
    items.map((i) => `${i.kind}:${i.id}`).sort(),
    [`attrs:${c.cert.id}`, `cert:${c.cert.id}`, `key:${c.key.id}`].sort(),
  );
  t.deepEqual(decodeCredentialAttributes(items.find((i) => i.kind === 'attrs')!.content), {
    cert: c.cert.id,
    friendlyName: 'Imported in Chromium',
    chain: [],
  });
  t.true(signsFor(items.find((i) => i.kind === 'key')!.content, c.cert.content));
  // Deleted in the browser: the certificate and its key.
  await certutil(['-F', '-d', `sql:${database}`, '-n', 'Imported in Chromium', '-f', '/dev/null']);
  t.not(await store.revision(), r1);
  t.deepEqual(await store.list(), { items: [], unreadable: [] });
});
