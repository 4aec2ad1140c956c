import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  decodeCredentialAttributes,
  encodeCredentialAttributes,
  type LocalItem,
  X509ContentInspector,
} from '@credroam/core';
import { opensslChain } from '@credroam/core/testing';
import test from 'ava';
import { certutil, nicknames, setup, sha256, T0 } from './support.js';

async function chainSetup(t: Parameters<typeof setup>[0]) {
  const s = await setup(t);
  await mkdir(path.join(s.root, 'chain'));
  const chain = await opensslChain(path.join(s.root, 'chain'));
  const id = sha256(chain.leaf);
  const cert: LocalItem = { kind: 'cert', id, content: chain.leaf, archived: false, modified: T0 };
  const key: LocalItem = {
    kind: 'key',
    id: new X509ContentInspector().inspect('key', chain.leafKey).id,
    content: chain.leafKey,
    archived: false,
    modified: T0,
  };
  const attrs: LocalItem = {
    kind: 'attrs',
    id,
    content: encodeCredentialAttributes({
      cert: id,
      friendlyName: 'My VPN',
      chain: [chain.intermediate, chain.root],
    }),
    archived: false,
    modified: T0,
  };
  return { ...s, chain, cert, key, attrs };
}

for (const order of [
  ['attrs', 'cert', 'key'],
  ['cert', 'key', 'attrs'],
] as const) {
  test(`attributes (${order.join(', ')}): the friendly name is the nickname, the chain goes in as CA certificates that are not credentials; they list back the same`, async (t) => {
    const { store, database, cert, key, attrs, chain } = await chainSetup(t);
    const items = { cert, key, attrs };
    for (const kind of order) await store.put(items[kind]);
    const listed = await store.list();
    t.deepEqual(listed.unreadable, []);
    t.deepEqual(
      listed.items.map((i) => `${i.kind}:${i.id}`).sort(),
      [`attrs:${cert.id}`, `cert:${cert.id}`, `key:${key.id}`].sort(),
    );
    t.deepEqual(
      Buffer.from(listed.items.find((i) => i.kind === 'attrs')!.content),
      Buffer.from(attrs.content),
    );
    const names = await nicknames(database);
    t.true(names.includes('My VPN'));
    t.is(names.length, 3, 'the leaf and its two CA certificates');
    for (const ca of [chain.intermediate, chain.root]) {
      t.false(
        listed.items.some((i) => i.id === sha256(ca)),
        'a CA certificate of the chain is not a credential',
      );
    }
    // Without trust flags: the chain does not make them trusted.
    t.regex(await certutil(['-L', '-d', `sql:${database}`]), /Test Root CA\s+,,\s*$/m);
  });
}

test('a nickname the user changes (certutil --rename) lists as a new friendly name; removing the certificate takes its attributes', async (t) => {
  const { store, database, stateDir, cert, key, attrs } = await chainSetup(t);
  for (const i of [cert, key, attrs]) await store.put(i);
  await certutil(['--rename', '-n', 'My VPN', '--new-n', 'Work VPN', '-d', `sql:${database}`]);
  const a = (await store.list()).items.find((i) => i.kind === 'attrs')!;
  t.is(decodeCredentialAttributes(a.content).friendlyName, 'Work VPN');
  t.is(decodeCredentialAttributes(a.content).chain.length, 2, 'the chain stays');
  const keepUntil = Date.now() + 60_000;
  await store.remove('cert', cert.id, { keepUntil });
  await store.remove('key', key.id, { keepUntil });
  const after = await store.list();
  t.deepEqual(after, { items: [], unreadable: [] });
  const { readdir } = await import('node:fs/promises');
  t.true((await readdir(path.join(stateDir, 'removed'))).includes(`${keepUntil}-attrs-${cert.id}.json`));
});

test('a friendly name NSS cannot take as it is (":" separates a token name) is cleaned, made unique, and the attributes still list as given', async (t) => {
  const { root, store, database } = await setup(t);
  const { credential } = await import('./support.js');
  const a = await credential(root, 'a1', 'ec', { subject: '/CN=one' });
  const b = await credential(root, 'b1', 'ec', { subject: '/CN=two' });
  const name = 'Token: VPN  “quoted” ünï';
  for (const c of [a, b]) {
    await store.put(c.cert);
    await store.put(c.key);
    await store.put({
      kind: 'attrs',
      id: c.cert.id,
      content: encodeCredentialAttributes({ cert: c.cert.id, friendlyName: name, chain: [] }),
      archived: false,
      modified: T0,
    });
  }
  t.deepEqual(
    (await nicknames(database)).sort(),
    ['Token_ VPN “quoted” ünï', 'Token_ VPN “quoted” ünï (2)'].sort(),
  );
  const { items, unreadable } = await store.list();
  t.deepEqual(unreadable, []);
  const names = items
    .filter((i) => i.kind === 'attrs')
    .map((i) => decodeCredentialAttributes(i.content).friendlyName);
  t.deepEqual(names, [name, name]);
});

test('attributes that name another certificate are refused, nothing written', async (t) => {
  const { store, attrs, database } = await chainSetup(t);
  await t.throwsAsync(store.put({ ...attrs, id: 'f'.repeat(64) }), { message: /name certificate/ });
  t.deepEqual(await nicknames(database), []);
});
