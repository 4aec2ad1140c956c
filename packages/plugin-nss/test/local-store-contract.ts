import {
  decodeCredentialAttributes,
  encodeCredentialAttributes,
  type LocalItem,
  type LocalStore,
} from '@credroam/core';
import type { ExecutionContext, TestFn } from 'ava';
import { credential, signsFor, T0 } from './support.js';

/**
 * The behaviour every `LocalStore` owes the engine, written against the interface only, so that
 * any store can run it (here: the NSS store and the built-in credential folder). A store's own
 * tests add what is particular to it (files, tools, hostile entries).
 */
export interface ContractSubject {
  readonly store: LocalStore;
  /** A folder for the test's own files. */
  readonly root: string;
}

export function localStoreContract(
  test: TestFn,
  name: string,
  make: (t: ExecutionContext) => Promise<ContractSubject>,
): void {
  const ids = (items: readonly LocalItem[]) => items.map((i) => `${i.kind}:${i.id}`).sort();

  test(`${name} (contract): put then list gives the same certificate bytes and a key with the same public key that signs for it`, async (t) => {
    const { store, root } = await make(t);
    for (const type of ['rsa', 'ec'] as const) {
      const c = await credential(root, `contract-${type}`, type);
      await store.put(c.cert);
      await store.put(c.key);
      const { items, unreadable } = await store.list();
      t.deepEqual(unreadable, []);
      const cert = items.find((i) => i.kind === 'cert' && i.id === c.cert.id)!;
      t.deepEqual(Buffer.from(cert.content), Buffer.from(c.cert.content));
      t.false(cert.archived);
      const key = items.find((i) => i.kind === 'key' && i.id === c.key.id)!;
      t.true(signsFor(key.content, c.cert.content));
    }
  });

  test(`${name} (contract): the revision changes with each put and remove, and not with a listing`, async (t) => {
    const { store, root } = await make(t);
    const c = await credential(root, 'revision', 'ec');
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

  test(`${name} (contract): archived certificates list archived, and back; attributes list back byte for byte`, async (t) => {
    const { store, root } = await make(t);
    const c = await credential(root, 'archive', 'ec');
    await store.put(c.cert);
    await store.put(c.key);
    await store.put({ ...c.cert, archived: true });
    t.true((await store.list()).items.find((i) => i.kind === 'cert')!.archived);
    await store.put({ ...c.cert, archived: false });
    t.false((await store.list()).items.find((i) => i.kind === 'cert')!.archived);
    const attrs: LocalItem = {
      kind: 'attrs',
      id: c.cert.id,
      content: encodeCredentialAttributes({ cert: c.cert.id, friendlyName: 'Contract name', chain: [] }),
      archived: false,
      modified: T0,
    };
    await store.put(attrs);
    const listed = (await store.list()).items.find((i) => i.kind === 'attrs')!;
    t.deepEqual(Buffer.from(listed.content), Buffer.from(attrs.content));
    t.is(decodeCredentialAttributes(listed.content).friendlyName, 'Contract name');
  });

  test(`${name} (contract): remove takes a certificate with its attributes, and its key; a missing item is no error`, async (t) => {
    const { store, root } = await make(t);
    const c = await credential(root, 'remove', 'rsa');
    const keep = await credential(root, 'keep', 'ec');
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
}
