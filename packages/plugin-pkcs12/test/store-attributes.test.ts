import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  associatedData,
  decodeCredentialAttributes,
  EventId,
  EventLog,
  encodeCredentialAttributes,
  encodeHeader,
  encodeToken,
  type LocalItem,
  type LogRecord,
  TokenFlag,
  X509ContentInspector,
} from '@credroam/core';
import { makeEngine, opensslChain, ReplicatedDirectory, SHARED_PROTECTOR } from '@credroam/core/testing';
import test from 'ava';
import { CredentialFolderStore } from '../src/index.js';
import { folderKeyring, tempDir } from './support.js';

/** The credential folder keeps a certificate's attributes (friendly name, CA chain) in `attrs/`. */

const sha256 = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
const T0 = 1_700_000_000_000;

async function setup(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const keyring = await folderKeyring(root);
  const events: LogRecord[] = [];
  const logger = new EventLog({ write: () => undefined });
  logger.subscribe((r) => events.push(r));
  const store = new CredentialFolderStore(path.join(root, 'store'), keyring, { logger });
  await mkdir(path.join(root, 'chain'));
  const chain = await opensslChain(path.join(root, 'chain'));
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
  return { root, store, chain, cert, key, attrs, events };
}

test('attributes put in the store list back the same, from attrs/<sha256>.json, owner-only', async (t) => {
  const { store, root, cert, key, attrs } = await setup(t);
  const before = await store.revision();
  await store.put(key);
  await store.put(cert);
  await store.put(attrs);
  t.not(await store.revision(), before);
  const { items, unreadable } = await store.list();
  t.deepEqual(unreadable, []);
  t.deepEqual(
    items.find((i) => i.kind === 'attrs'),
    { ...attrs, content: new Uint8Array(attrs.content) },
  );
  const file = path.join(root, 'store', 'attrs', `${cert.id}.json`);
  t.is((await lstat(file)).mode & 0o777, 0o600);
  t.is((await lstat(path.dirname(file))).mode & 0o777, 0o700);
  t.is(decodeCredentialAttributes(await readFile(file)).friendlyName, 'My VPN');
  // A revision that changes with the attributes alone.
  const r1 = await store.revision();
  await store.put({
    ...attrs,
    content: encodeCredentialAttributes({ cert: cert.id, friendlyName: 'Work', chain: [] }),
    modified: T0 + 1000,
  });
  t.not(await store.revision(), r1);
});

test('the store refuses to write attributes that name another certificate or break a rule', async (t) => {
  const { store, root, attrs } = await setup(t);
  await t.throwsAsync(store.put({ ...attrs, id: 'f'.repeat(64) }), { message: /name certificate/ });
  await t.throwsAsync(store.put({ ...attrs, content: new TextEncoder().encode('{"v":1}') }));
  t.deepEqual(await readdir(path.join(root, 'store')).catch(() => []), []);
});

test('a damaged, misnamed or foreign file in attrs/ is reported unreadable and left alone; the credential lists', async (t) => {
  const { store, root, cert, key, attrs } = await setup(t);
  await store.put(key);
  await store.put(cert);
  await store.put(attrs);
  const dir = path.join(root, 'store', 'attrs');
  const other = 'e'.repeat(64);
  await writeFile(path.join(dir, `${other}.json`), '{"v":1,"cert":"junk"}', { mode: 0o600 });
  await writeFile(path.join(dir, `${'d'.repeat(64)}.json`), attrs.content, { mode: 0o600 });
  await writeFile(path.join(dir, 'notes.txt'), 'hello', { mode: 0o600 });
  const { items, unreadable } = await store.list();
  t.is(items.length, 3);
  t.deepEqual(
    unreadable.map((u) => [u.name, u.kind, u.id]).sort(),
    [
      [`attrs/${'d'.repeat(64)}.json`, 'attrs', 'd'.repeat(64)],
      [`attrs/${other}.json`, 'attrs', other],
      ['attrs/notes.txt', undefined, undefined],
    ].sort(),
  );
  t.regex(unreadable.find((u) => u.id === 'd'.repeat(64))!.reason, new RegExp(`certificate ${cert.id}`));
  t.is((await readdir(dir)).length, 4, 'nothing deleted');
});

test('removing a certificate takes its attributes with it, into removed/ until the time given', async (t) => {
  const { store, root, cert, key, attrs } = await setup(t);
  await store.put(key);
  await store.put(cert);
  await store.put(attrs);
  await store.list();
  const keepUntil = Date.now() + 86_400_000;
  await store.remove('cert', cert.id, { keepUntil });
  const { items } = await store.list();
  t.deepEqual(
    items.map((i) => i.kind),
    ['key'],
  );
  const removed = await readdir(path.join(root, 'store', 'removed'));
  t.true(removed.includes(`${keepUntil}-cert-${cert.id}.der`));
  t.true(removed.includes(`${keepUntil}-attrs-${cert.id}.json`));
  // Removing attributes alone, and removing what is gone, are fine.
  await store.put(attrs);
  await store.remove('attrs', cert.id);
  await store.remove('attrs', cert.id);
  t.false((await store.list()).items.some((i) => i.kind === 'attrs'));
});

test('a link planted at attrs/ is refused (1032) and not followed; certificates and keys still list', async (t) => {
  const { store, root, cert, key, attrs, events } = await setup(t);
  await store.put(key);
  await store.put(cert);
  const elsewhere = path.join(root, 'elsewhere');
  await mkdir(elsewhere);
  await symlink(elsewhere, path.join(root, 'store', 'attrs'));
  const { items, unreadable } = await store.list();
  t.is(items.length, 2);
  t.true(unreadable.some((u) => u.name === 'attrs'));
  t.true(events.some((e) => e.event === EventId.StoreFolderRefused));
  await t.throwsAsync(store.put(attrs));
  t.deepEqual(await readdir(elsewhere), []);
});

test('a certificate removed by a credroam that predates attributes: its attributes leave the store, and their tombstone roams', async (t) => {
  const { store, cert, key, attrs } = await setup(t);
  for (const i of [key, cert, attrs]) await store.put(i);
  const directory = new ReplicatedDirectory(1);
  const clock = { now: T0 + 10_000 };
  const { engine, events, state } = makeEngine({
    directory: directory.server(0),
    local: store,
    inspector: new X509ContentInspector(),
    now: () => clock.now,
  });
  t.is((await engine.sync({ full: true })).counts.uploaded, 3);
  // An old endpoint deletes the certificate and key only: it cannot see the attributes (kind 3).
  clock.now += 1000;
  const replica = directory.replicas[0]!;
  for (const v of [...replica.tokens]) {
    const bytes = Buffer.from(v, 'base64');
    if (bytes[3] === 3) continue; // the attributes: an old version leaves them alone
    replica.tokens.delete(v);
    const kind = bytes[3] === 1 ? 'cert' : 'key';
    const id = bytes.subarray(14, 46).toString('hex');
    const base = (await state.load())!.base[`${kind}:${id}`]!;
    const fields = {
      kind,
      flags: TokenFlag.Tombstone,
      modified: clock.now,
      id,
      superseded: { modified: base.modified, hash: base.hash },
    } as const;
    const sealed = await SHARED_PROTECTOR.seal({
      kind,
      payload: new Uint8Array(0),
      aad: associatedData('alice', encodeHeader({ ...fields, payloadLength: 0 })),
    });
    replica.tokens.add(
      Buffer.from(encodeToken(encodeHeader({ ...fields, payloadLength: sealed.length }), sealed)).toString(
        'base64',
      ),
    );
  }
  clock.now += 1000;
  const r1 = await engine.sync({ full: true });
  t.is(r1.counts.removed, 2);
  t.false(
    (await store.list()).items.some((i) => i.kind === 'attrs'),
    'the attributes left with their certificate',
  );
  const r2 = await engine.sync({ full: true });
  t.is(r2.counts.tombstoned, 1, 'and their deletion roams');
  t.deepEqual(
    r2.changes.map((c) => c.kind),
    ['attrs'],
  );
  t.false(events.some((e) => e.event === EventId.AttributesWithoutCertificate));
});
