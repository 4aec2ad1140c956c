import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalItem, LocalListing, LocalStore, TokenKind } from '@credroam/core';
import { opensslCredential } from '@credroam/core/testing';
import test, { type ExecutionContext } from 'ava';
import { credentialPartsOf } from '../../src/cli/credentials.js';

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
