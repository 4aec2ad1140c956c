import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalItem } from '@credroam/core';
import test from 'ava';
import { CredentialFolderStore } from '../src/index.js';
import { openssl, tempDir } from './support.js';

test('a certificate written to certs/ then to archived/ in one batch, archived/ already there: one copy, the later', async (t) => {
  const root = await tempDir(t);
  const store = new CredentialFolderStore(path.join(root, 'store'), undefined);
  const certs: LocalItem[] = [];
  for (const name of ['a', 'b']) {
    await openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-outform',
        'DER',
        '-out',
        `${name}.der`,
        '-days',
        '3',
        '-subj',
        `/CN=${name}`,
      ],
      { cwd: root },
    );
    const content = new Uint8Array(await readFile(path.join(root, `${name}.der`)));
    const id = createHash('sha256').update(content).digest('hex');
    certs.push({ kind: 'cert', id, content, archived: false, modified: 1_700_000_000_000 });
  }
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
