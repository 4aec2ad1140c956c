import path from 'node:path';
import type { LocalItem } from '@credroam/core';
import { opensslCredential } from '@credroam/core/testing';
import test from 'ava';
import { CredentialFolderStore } from '../src/index.js';
import { tempDir } from './support.js';

test('a certificate written to certs/ then to archived/ in one batch, archived/ already there: one copy, the later', async (t) => {
  const root = await tempDir(t);
  const store = new CredentialFolderStore(path.join(root, 'store'), undefined);
  const certs: LocalItem[] = [];
  for (const name of ['a', 'b']) certs.push((await opensslCredential(root, name)).cert);
  const [a, b] = certs as [LocalItem, LocalItem];
  for (let round = 0; round < 20; round++) {
    await store.put({ ...b, archived: true }); // archived/ is there
    await store.put({ ...a, archived: true });
    await store.put({ ...a, archived: false }, { durable: false });
    await store.put({ ...a, archived: true }, { durable: false });
    await store.flush();
    const copies = (await store.list()).items.filter((i) => i.id === a.id);
    t.deepEqual(
      copies.map((i) => i.archived),
      [true],
      `round ${round}: the later write stands, once`,
    );
  }
});
