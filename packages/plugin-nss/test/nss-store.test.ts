import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { certutil, credential, nicknames, setup, signsFor } from './support.js';

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
