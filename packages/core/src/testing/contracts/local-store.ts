import type { LocalItem, LocalStore } from '../../api/points/local-store.js';
import { decodeCredentialAttributes, encodeCredentialAttributes } from '../../engine/attributes.js';
import { opensslCredential, signsFor } from '../credentials.js';
import type { ContractAssertions, ContractTest } from './contract-test.js';

/** What a `LocalStore` contract test runs on: a fresh, empty store, and a folder for the test's own files. */
export interface LocalStoreSubject {
  readonly store: LocalStore;
  /** A folder the suite may write its certificates into (not the store's). */
  readonly root: string;
}

const T0 = 1_700_000_000_000;
const ids = (items: readonly LocalItem[]) => items.map((i) => `${i.kind}:${i.id}`).sort();

/**
 * The behaviour every `LocalStore` owes the engine, written against the interface only: the
 * built-in credential folder (pkcs12) and the NSS store run it, and so can yours. `make` gives
 * each test a fresh, empty store (use `t.teardown` to remove its files). Certificates are made
 * with `openssl`. A store's own tests add what is particular to it (its files, its tools).
 */
export function localStoreContract(
  test: ContractTest,
  name: string,
  make: (t: ContractAssertions) => Promise<LocalStoreSubject>,
): void {
  test(`${name} (LocalStore contract): put then list gives the same certificate bytes and a key with the same public key that signs for it`, async (t) => {
    const { store, root } = await make(t);
    for (const type of ['rsa', 'ec'] as const) {
      const c = await opensslCredential(root, `contract-${type}`, type);
      await store.put(c.cert);
      await store.put(c.key);
      const { items, unreadable } = await store.list();
      t.deepEqual(unreadable, []);
      const cert = items.find((i) => i.kind === 'cert' && i.id === c.cert.id);
      t.true(cert !== undefined, 'the certificate is listed');
      t.deepEqual(Buffer.from(cert!.content), Buffer.from(c.cert.content));
      t.false(cert!.archived);
      const key = items.find((i) => i.kind === 'key' && i.id === c.key.id);
      t.true(
        key !== undefined && signsFor(key.content, c.cert.content),
        'the key is listed and signs for it',
      );
    }
  });

  test(`${name} (LocalStore contract): the revision changes with each put and remove, and not with a listing`, async (t) => {
    const { store, root } = await make(t);
    const c = await opensslCredential(root, 'revision', 'ec');
    await store.list();
    const r0 = await store.revision();
    await store.list();
    t.is(await store.revision(), r0);
    await store.put(c.cert);
    const r1 = await store.revision();
    t.not(r1, r0);
    await store.put(c.key);
    const r2 = await store.revision();
    t.not(r2, r1);
    await store.list();
    await store.remove('key', c.key.id);
    t.not(await store.revision(), r2);
  });

  test(`${name} (LocalStore contract): archived certificates list archived, and back; attributes with a hostile friendly name list back byte for byte`, async (t) => {
    const { store, root } = await make(t);
    const c = await opensslCredential(root, 'archive', 'ec');
    await store.put(c.cert);
    await store.put(c.key);
    await store.put({ ...c.cert, archived: true });
    t.true((await store.list()).items.find((i) => i.kind === 'cert')?.archived);
    await store.put({ ...c.cert, archived: false });
    t.false((await store.list()).items.find((i) => i.kind === 'cert')?.archived);
    const friendlyName = `Ünïcode "quoted" 'name' ../../etc/passwd; rm -rf / $(id) %s 🔑`;
    const attrs: LocalItem = {
      kind: 'attrs',
      id: c.cert.id,
      content: encodeCredentialAttributes({ cert: c.cert.id, friendlyName, chain: [] }),
      archived: false,
      modified: T0,
    };
    await store.put(attrs);
    const listed = (await store.list()).items.find((i) => i.kind === 'attrs');
    t.deepEqual(Buffer.from(listed?.content ?? []), Buffer.from(attrs.content));
    t.is(decodeCredentialAttributes(listed!.content).friendlyName, friendlyName);
  });

  test(`${name} (LocalStore contract): remove takes a certificate with its attributes, and its key; a missing item is no error`, async (t) => {
    const { store, root } = await make(t);
    const c = await opensslCredential(root, 'remove', 'rsa');
    const keep = await opensslCredential(root, 'keep', 'ec');
    for (const i of [c.cert, c.key, keep.cert, keep.key]) await store.put(i);
    await store.put({
      kind: 'attrs',
      id: c.cert.id,
      content: encodeCredentialAttributes({ cert: c.cert.id, friendlyName: 'Gone', chain: [] }),
      archived: false,
      modified: T0,
    });
    await store.list();
    const keepUntil = Date.now() + 60_000;
    await store.remove('cert', c.cert.id, { keepUntil });
    await store.remove('key', c.key.id, { keepUntil });
    await store.remove('cert', c.cert.id, { keepUntil });
    await store.remove('attrs', c.cert.id);
    const { items, unreadable } = await store.list();
    t.deepEqual(unreadable, []);
    t.deepEqual(ids(items.filter((i) => i.kind !== 'attrs')), ids([keep.cert, keep.key]));
    t.false(items.some((i) => i.id === c.cert.id));
  });

  test(`${name} (LocalStore contract): get, where the store has it, reads one item as list does; undefined for one it does not hold`, async (t) => {
    const { store, root } = await make(t);
    if (store.get === undefined) return void t.true(true, 'the store has no get: nothing to check');
    const c = await opensslCredential(root, 'get', 'ec');
    await store.put(c.cert);
    await store.put(c.key);
    const listed = (await store.list()).items;
    for (const want of [c.cert, c.key]) {
      const got = await store.get(want.kind, want.id);
      const same = listed.find((i) => i.kind === want.kind && i.id === want.id);
      t.deepEqual(Buffer.from(got?.content ?? []), Buffer.from(same?.content ?? [1]));
      t.is(got?.archived, same?.archived);
    }
    t.is(await store.get('cert', '0'.repeat(64)), undefined);
    t.is(await store.get('key', '0'.repeat(64)), undefined);
  });

  test(`${name} (LocalStore contract): with flush, writes held back (durable: false) all land, in order, once flushed; a durable write or a removal after them keeps the order`, async (t) => {
    const { store, root } = await make(t);
    if (store.flush === undefined) return void t.true(true, 'the store has no flush: nothing to check');
    const [a, b] = await Promise.all([1, 2].map((n) => opensslCredential(root, `batch-${n}`, 'ec')));
    for (const i of [a!.cert, a!.key, b!.cert, b!.key]) await store.put(i, { durable: false });
    await store.put({ ...a!.cert, archived: true }, { durable: false });
    await store.flush();
    const first = await store.list();
    t.deepEqual(first.unreadable, []);
    t.deepEqual(ids(first.items), ids([a!.cert, a!.key, b!.cert, b!.key]));
    t.true(first.items.find((i) => i.id === a!.cert.id)?.archived, 'the later write of a wins');
    // Held writes, then a durable one of the same item: the durable one is the last.
    await store.put({ ...a!.cert, archived: false }, { durable: false });
    await store.put({ ...a!.cert, archived: true });
    await store.flush();
    t.true((await store.list()).items.find((i) => i.id === a!.cert.id)?.archived);
    // Held writes, then a removal: the removal is the last.
    await store.put(b!.cert, { durable: false });
    await store.list();
    await store.remove('cert', b!.cert.id);
    await store.flush();
    t.false((await store.list()).items.some((i) => i.id === b!.cert.id));
    await store.flush(); // nothing held: nothing to do
  });

  test(`${name} (LocalStore contract): puts made at the same time all land, each item whole`, async (t) => {
    const { store, root } = await make(t);
    const made = await Promise.all([1, 2, 3].map((n) => opensslCredential(root, `concurrent-${n}`, 'ec')));
    await Promise.all(made.flatMap((c) => [store.put(c.cert), store.put(c.key)]));
    const { items, unreadable } = await store.list();
    t.deepEqual(unreadable, []);
    t.deepEqual(ids(items), ids(made.flatMap((c) => [c.cert, c.key])));
    for (const c of made) {
      const cert = items.find((i) => i.id === c.cert.id);
      t.deepEqual(Buffer.from(cert?.content ?? []), Buffer.from(c.cert.content));
    }
  });
}
