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
