import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalItem, LocalListing, LocalStore, TokenKind } from '@credroam/core';
import { opensslCredential } from '@credroam/core/testing';
import test, { type ExecutionContext } from 'ava';
import { credentialPartsOf, oneCredentialListing } from '../../src/cli/credentials.js';

/** A store of two credentials whose keys are locked in its listing; it counts what it is asked. */
async function twoCredentials(t: ExecutionContext) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'credroam-export-one-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const [a, b] = await Promise.all([opensslCredential(root, 'a'), opensslCredential(root, 'b')]);
  const calls = { list: 0, get: [] as string[] };
  const locked: LocalListing = {
    items: [a.cert, b.cert],
    unreadable: [a.key, b.key].map((k) => ({
      name: `keys/${k.id}.p8`,
      kind: 'key' as const,
      id: k.id,
      reason: 'locked',
    })),
  };
  const store: LocalStore = {
    revision: async () => '1',
    list: async () => {
      calls.list++;
      return { items: [a.cert, a.key, b.cert, b.key], unreadable: [] };
    },
    get: async (kind: TokenKind, id: string): Promise<LocalItem | undefined> => {
      calls.get.push(`${kind}:${id}`);
      if (id === b.key.id) throw new Error('it failed authentication');
      return [a.key].find((i) => i.kind === kind && i.id === id);
    },
    put: async () => undefined,
    remove: async () => undefined,
  };
  return { a, b, calls, locked, store };
}

test('export reads the one key it writes (get), not the whole store', async (t) => {
  const { a, calls, locked, store } = await twoCredentials(t);
  const parts = await credentialPartsOf(store, locked, a.cert.id);
  t.deepEqual(parts.key, a.key.content);
  t.deepEqual(parts.cert, a.cert.content);
  t.is(calls.list, 0, 'no listing with the keys open');
  t.deepEqual(calls.get, [`key:${a.key.id}`]);
});

test('a key that does not open is the same error as from a listing, naming it', async (t) => {
  const { b, locked, store } = await twoCredentials(t);
  await t.throwsAsync(credentialPartsOf(store, locked, b.cert.id), {
    code: 'E_KEY_UNREADABLE',
    message: /failed authentication/,
  } as never);
});

test('a store without get is listed once more, with the keys open', async (t) => {
  const { a, calls, locked, store } = await twoCredentials(t);
  const { get: _, ...withoutGet } = store;
  const parts = await credentialPartsOf(withoutGet, locked, a.cert.id);
  t.deepEqual(parts.key, a.key.content);
  t.is(calls.list, 1);
});

/** The same store, its `get` also handing out certificates and attributes, and locked keys as the folder store does. */
function withCertificates(store: LocalStore, items: readonly LocalItem[], lockedKeys: boolean): LocalStore {
  return {
    ...store,
    get: async (kind: TokenKind, id: string) => {
      if (kind === 'key' && lockedKeys && items.some((i) => i.kind === 'key' && i.id === id))
        throw new Error('the credroam keys are locked');
      return items.find((i) => i.kind === kind && i.id === id);
    },
  };
}

test('a whole SHA-256 finds the credential from its own files: no listing, and a locked key is reported as a listing would', async (t) => {
  const { a, calls, store } = await twoCredentials(t);
  const locked = withCertificates(store, [a.cert, a.key], true);
  const found = await oneCredentialListing(
    locked,
    a.cert.id.toUpperCase().replace(/(..)/g, '$1:').slice(0, -1),
  );
  t.is(calls.list, 0);
  t.deepEqual(found?.items, [a.cert]);
  t.like(found?.unreadable[0], { kind: 'key', id: a.key.id, reason: 'the credroam keys are locked' });
  const open = await oneCredentialListing(withCertificates(store, [a.cert, a.key], false), a.cert.id);
  t.deepEqual(open?.items, [a.cert, a.key]);
});

test('a prefix, a certificate not under its own name, or a key not under its own name: the store is listed instead', async (t) => {
  const { a, b, store } = await twoCredentials(t);
  const full = withCertificates(store, [a.cert, a.key, b.cert], false);
  t.is(await oneCredentialListing(full, a.cert.id.slice(0, 16)), undefined, 'a prefix');
  t.is(await oneCredentialListing(withCertificates(store, [], false), a.cert.id), undefined, 'no such file');
  t.is(
    await oneCredentialListing(withCertificates(store, [b.cert], false), b.cert.id),
    undefined,
    'its key not found by name',
  );
  const { get: _, ...withoutGet } = store;
  t.is(await oneCredentialListing(withoutGet, a.cert.id), undefined, 'a store without get');
});
